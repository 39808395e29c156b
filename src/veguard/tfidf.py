"""TF-IDF in numpy: scikit-learn's `word` and `char_wb` analyzers and its l2-normalised
(sublinear) TF-IDF, from plain arrays (terms, idf) that `np.load(allow_pickle=False)` reads.

Used by the routing model (`veguard.routing`, `routing.npz`) and the TF-IDF reference
(`veguard.backends.TfidfBackend`, `tfidf.npz`), so neither imports scikit-learn (about 1.4 s)
nor unpickles a file to score. `Tfidf.from_sklearn` takes a fitted `TfidfVectorizer` (tests
hold the two to the same numbers); `write`/`read` put a list of them into / out of an npz
dict under a prefix.

What it leaves out: fitting (scikit-learn does it in training), custom preprocessors,
tokenizers, stop words and accent stripping (refused by `from_sklearn`).
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

_WHITE_SPACES = re.compile(r"\s\s+")  # scikit-learn's, for char_wb


def _word_terms(text: str, pattern: re.Pattern, lo: int, hi: int) -> list[str]:
    """scikit-learn's `word` analyzer (lowercased text): tokens, then their n-grams."""
    tokens = pattern.findall(text)
    out = list(tokens) if lo == 1 else []
    for n in range(max(lo, 2), min(hi, len(tokens)) + 1):
        out.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return out


def _char_wb_terms(text: str, lo: int, hi: int) -> list[str]:
    """scikit-learn's `char_wb` analyzer (lowercased text): character n-grams inside each
    space-padded word; a word shorter than n gives itself once."""
    out = []
    for w in _WHITE_SPACES.sub(" ", text).split():
        w = f" {w} "
        for n in range(lo, hi + 1):
            offset = 0
            out.append(w[offset : offset + n])
            while offset + n < len(w):
                offset += 1
                out.append(w[offset : offset + n])
            if offset == 0:  # the word is no longer than n: every longer n gives the same
                break
    return out


class Tfidf:
    """One TF-IDF vectorizer's arrays and settings (l2-normalised, as trained)."""

    def __init__(self, terms: np.ndarray, idf: np.ndarray, settings: dict):
        self.terms, self.idf, self.settings = terms, np.asarray(idf, dtype=np.float64), settings
        self.index = {str(t): i for i, t in enumerate(terms)}
        self.lo, self.hi = settings["ngram_range"]
        self.pattern = re.compile(settings["token_pattern"])

    @classmethod
    def from_sklearn(cls, v, where: str) -> Tfidf:
        p = v.get_params()
        unsupported = {k: p[k] for k in ("preprocessor", "tokenizer", "stop_words",
                                         "strip_accents", "vocabulary") if p[k] is not None}
        if p["analyzer"] not in ("word", "char_wb") or not p["lowercase"] or p["binary"] \
                or p["norm"] != "l2" or not p["use_idf"] or unsupported:
            raise ValueError(f"{where}: a vectorizer must be a lowercasing, l2-normed "
                             "TF-IDF with analyzer 'word' or 'char_wb' and no custom "
                             f"preprocessing, got {v!r}")
        terms = np.array(sorted(v.vocabulary_, key=v.vocabulary_.get), dtype=str)
        settings = {"analyzer": p["analyzer"], "ngram_range": list(p["ngram_range"]),
                    "token_pattern": p["token_pattern"], "sublinear_tf": p["sublinear_tf"]}
        return cls(terms, v.idf_, settings)

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(column indices, l2-normalised tf-idf values) of one text."""
        text = text.lower()
        terms = (_word_terms(text, self.pattern, self.lo, self.hi)
                 if self.settings["analyzer"] == "word" else _char_wb_terms(text, self.lo, self.hi))
        counts = Counter(t for t in terms if t in self.index)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        idx = np.fromiter((self.index[t] for t in counts), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.settings["sublinear_tf"]:
            tf = 1.0 + np.log(tf)
        val = tf * self.idf[idx]
        return idx, val / math.sqrt(float(val @ val))


def write(arrays: dict, vectorizers: list[Tfidf], prefix: str = "v") -> list[dict]:
    """Put each vectorizer's terms and idf into `arrays` (`<prefix><i>_terms`, `_idf`);
    returns their settings, for the file's JSON header."""
    for i, v in enumerate(vectorizers):
        arrays[f"{prefix}{i}_terms"], arrays[f"{prefix}{i}_idf"] = v.terms, v.idf
    return [v.settings for v in vectorizers]


def read(arrays: dict, settings: list[dict], prefix: str = "v") -> list[Tfidf]:
    """The vectorizers `write` put into `arrays`, given the header's `settings`."""
    return [Tfidf(arrays[f"{prefix}{i}_terms"], arrays[f"{prefix}{i}_idf"], s)
            for i, s in enumerate(settings)]


def features(vectorizers: list[Tfidf], text: str) -> tuple[np.ndarray, np.ndarray]:
    """(columns, values) of one text in the vectorizers' concatenated feature space (what
    scikit-learn's FeatureUnion of them gives)."""
    idx, val, offset = [], [], 0
    for v in vectorizers:
        i, x = v.features(text)
        idx.append(i + offset)
        val.append(x)
        offset += len(v.terms)
    return np.concatenate(idx), np.concatenate(val)
