"""Train the routing model (`veguard.routing`) into an existing model directory.

    veguard train --config training/configs/routing.yaml [--out MODEL_DIR]

Training rows, each with a movement and/or a behaviour (`taxonomy.ROUTING`), come from:
- `routing_data`: hand-labelled JSONL of our own, one {"text", "movement", "behaviour"} per
  line (either label may be null), written apart from the routing evaluation suite ('' =
  none);
- the violating synthetic rows (`data/synthetic`, `routing_synthetic`): their `ideology` and
  `kind` mapped below (the one place those names are turned into routing labels);
- MIWS (`routing_miws`): IS / white-supremacist seed posts labelled propaganda, recruitment
  or radicalisation (`veguard.data.sources.read_miws_routing`).
A row without a label in one dimension is left out of that dimension's fit only.

The fit is TF-IDF (word 1-2grams + char_wb 2-5grams) and one multinomial
LogisticRegression per dimension with balanced class weights (the sources are very uneven:
few al-Shabaab rows, hundreds of IS ones). It writes `routing.npz` and records what it was
trained on under `routing` in `veguard.json`; the classifier's own weights and thresholds are
left untouched. About 70 s of CPU for the 1,404 shipped rows (mostly the movement fit).
What it leaves out: held-out measurement (the `routing` evaluation suite does that) and MIWS
split bookkeeping (the routing model never scores the corpus test split's extremism labels).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from veguard import modeldir
from veguard.data.normalize import normalize
from veguard.paths import REPO_ROOT
from veguard.routing import RoutingModel
from veguard.taxonomy import BEHAVIOURS, MOVEMENTS, ROUTING
from veguard.training.args import TrainArgs

# Synthetic `ideology` -> movement. Unlisted ideologies are `other`; no name at all is `unknown`.
IDEOLOGY_MOVEMENT = {
    "islamic_state": "islamic_state", "iskp": "is_khorasan", "al_qaeda": "al_qaeda",
    "ttp": "ttp", "al_shabaab": "al_shabaab", "white_supremacist": "white_supremacist",
    "accelerationist": "accelerationist", "jihadist_unnamed": "unknown",
}
# Synthetic `kind` -> behaviour. Dehumanisation has no GIFCT behaviour: left unlabelled.
KIND_BEHAVIOUR = {
    "glorification": "glorification", "support": "glorification",
    "recruitment": "recruitment_radicalisation_instruction",
    "incitement": "recruitment_radicalisation_instruction",
    "threat": "imminent_credible_threat", "propaganda": "propaganda_branded",
}


def read_labelled(path: str | Path) -> list[dict]:
    """Our JSONL of {"text", "movement", "behaviour"}; ValueError names file:line:field."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: routing data not found")
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: invalid JSON: {e.msg}") from None
            if not isinstance(d, dict) or not isinstance(d.get("text"), str) or not d["text"]:
                raise ValueError(f"{path}:{n}: field 'text': a non-empty string is required")
            for dim, labels in ROUTING.items():
                if d.get(dim) is not None and d[dim] not in labels:
                    raise ValueError(f"{path}:{n}: field {dim!r}: {d[dim]!r} is not one of "
                                     f"{', '.join(labels)}")
            rows.append({"text": d["text"], "movement": d.get("movement"),
                         "behaviour": d.get("behaviour"), "source": "routing_data"})
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def synthetic_rows(root: str | Path) -> list[dict]:
    from veguard.data.synthetic import load_synthetic

    out = []
    for r in load_synthetic(root):
        if r.get("extremism") != 1:
            continue
        ideology = r.get("ideology") or ""
        movement = IDEOLOGY_MOVEMENT.get(ideology, "other" if ideology else "unknown")
        out.append({"text": r["text"], "movement": movement,
                    "behaviour": KIND_BEHAVIOUR.get(r.get("kind", "")),
                    "source": "veguard_synthetic"})
    return out


def training_rows(args: TrainArgs) -> list[dict]:
    rows = read_labelled(_here(args.routing_data)) if args.routing_data else []
    if args.routing_synthetic:
        rows += synthetic_rows(REPO_ROOT / "data" / "synthetic")
    if args.routing_miws:
        from veguard.data.sources import read_miws_routing

        rows += [{**r, "source": "miws_seed"}
                 for r in read_miws_routing(REPO_ROOT / "data" / "raw" / "miws_seed")]
    return rows


def _here(p: str) -> Path:
    path = Path(p)
    return path if path.is_absolute() or path.exists() else REPO_ROOT / path


def fit(rows: list[dict], C: float = 4.0, seed: int = 13) -> tuple[RoutingModel, dict]:
    """(the model, a summary of what it saw) from rows with `text` and routing labels."""
    texts = [normalize(r["text"]) for r in rows]
    vec = FeatureUnion([
        ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                 min_df=1, token_pattern=r"(?u)\b\w+\b", dtype=np.float32)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                 min_df=2, max_features=50000, dtype=np.float32)),
    ])
    X = vec.fit_transform(texts)
    for _, v in vec.transformer_list:  # unused at transform time; large when pickled
        if hasattr(v, "stop_words_"):
            del v.stop_words_
    bundle: dict = {"vectorizer": vec}
    summary: dict = {"rows": len(rows), "sources": dict(Counter(r["source"] for r in rows))}
    for dim in ROUTING:
        keep = [i for i, r in enumerate(rows) if r.get(dim)]
        y = [rows[i][dim] for i in keep]
        if len(set(y)) < 2:
            raise ValueError(f"routing {dim}: need at least two labels, got {sorted(set(y))}")
        clf = LogisticRegression(C=C, max_iter=2000, class_weight="balanced", random_state=seed)
        bundle[dim] = clf.fit(X[keep], y)
        summary[dim] = dict(sorted(Counter(y).items()))
    return RoutingModel(bundle), summary


def train_routing(args: TrainArgs) -> Path:
    """Fit on `training_rows(args)` and write routing.npz into the model directory `out`."""
    t0 = time.time()
    out = Path(args.out)
    modeldir.read(out)  # the classifier must already be there: routing sits beside it
    if args.routing_from:
        return copy_routing(Path(args.routing_from), out)
    rows = training_rows(args)
    if not rows:
        raise ValueError("routing: no training rows (routing_data, routing_synthetic and "
                         "routing_miws are all off)")
    model, summary = fit(rows, args.routing_C, args.seed)
    path = model.save(out)
    missing = {dim: [c for c in labels if c not in summary[dim]]
               for dim, labels in (("movement", MOVEMENTS), ("behaviour", BEHAVIOURS))}
    record = {"file": modeldir.ROUTING_FILE, **summary,
              "never_seen": {k: v for k, v in missing.items() if v},
              "config": {"routing_data": args.routing_data, "synthetic": args.routing_synthetic,
                         "miws": args.routing_miws, "C": args.routing_C, "seed": args.seed},
              "wall_seconds": round(time.time() - t0, 1)}
    modeldir.update(out, routing=record)
    print(f"routing: {summary['rows']} rows -> {path} ({record['wall_seconds']} s)",
          file=sys.stderr, flush=True)
    return out


def copy_routing(src: Path, out: Path) -> Path:
    """Copy `src`'s routing model, file and `routing` record, into the model directory `out`.

    Routing reads the text alone, so a routing model moves between classifiers unchanged.
    """
    meta = modeldir.read(src)
    model = RoutingModel.from_model_dir(src)
    if meta.routing is None or model is None:
        raise ValueError(f"{src}: routing_from names a model directory without a routing "
                         f"model ({modeldir.ROUTING_FILE})")
    path = model.save(out)  # a legacy routing.joblib is written anew as routing.npz
    modeldir.update(out, routing={**meta.routing, "file": modeldir.ROUTING_FILE,
                                  "copied_from": src.name})
    print(f"routing: copied {src} -> {path}", file=sys.stderr, flush=True)
    return out
