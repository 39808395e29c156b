"""Operating points stored beside the weights (`thresholds.json`), and the one flag decision.

A model directory carries per-category calibration (a temperature T and a bias b: the score is
sigmoid(logit / T + b), `scale` computes the inside) and two operating points per category:
`review` (high recall: what goes to the human queue, and what sets `flagged`) and `auto`
(high precision: automatic action). Thresholds are artefacts, never literals in code.

File format (version 1):
    {"version": 1,
     "temperature": {"extremism": 1.3, ...},
     "bias": {"extremism": -0.8, ...},            # absent in files from before 2026-12-06: 0
     "operating_points": {"extremism": {"review": {"threshold": 0.31, "precision": 0.8,
                                                   "recall": 0.93, "target": "recall>=0.90"},
                                        "auto":   {...}}, ...},
     "chosen_on": "corpus validation split, 2026-11-24"}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from veguard.taxonomy import CATEGORIES, FLAGGING


@dataclass
class Thresholds:
    review: dict[str, float]
    auto: dict[str, float]
    temperature: dict[str, float] = field(default_factory=lambda: {c: 1.0 for c in CATEGORIES})
    bias: dict[str, float] = field(default_factory=lambda: {c: 0.0 for c in CATEGORIES})
    meta: dict = field(default_factory=dict)  # the rest of the file, kept for reports

    @classmethod
    def default(cls) -> Thresholds:
        """Uncalibrated 0.5 / 0.9 points: for freshly trained models before calibration."""
        return cls(review={c: 0.5 for c in CATEGORIES}, auto={c: 0.9 for c in CATEGORIES})

    @classmethod
    def load(cls, path: str | Path) -> Thresholds:
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: cannot read thresholds: {e}") from e
        ops = raw.get("operating_points", {})
        missing = [c for c in CATEGORIES if c not in ops]
        if missing:
            raise ValueError(f"{path}: operating_points lacks {', '.join(missing)}")
        return cls(
            review={c: float(ops[c]["review"]["threshold"]) for c in CATEGORIES},
            auto={c: float(ops[c]["auto"]["threshold"]) for c in CATEGORIES},
            temperature={c: float(raw.get("temperature", {}).get(c, 1.0)) for c in CATEGORIES},
            bias={c: float(raw.get("bias", {}).get(c, 0.0)) for c in CATEGORIES},
            meta=raw,
        )

    def to_json(self) -> dict:
        ops = self.meta.get("operating_points", {})
        out = dict(self.meta)
        out["version"] = 1
        out["temperature"] = dict(self.temperature)
        out["bias"] = dict(self.bias)
        out["operating_points"] = {
            c: {
                "review": {**ops.get(c, {}).get("review", {}), "threshold": self.review[c]},
                "auto": {**ops.get(c, {}).get("auto", {}), "threshold": self.auto[c]},
            }
            for c in CATEGORIES
        }
        return out

    def scale(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated logits: logit / T + b per category column of `logits` [..., C] (float64);
        the score is their sigmoid. The one place the calibration map is written."""
        temps = np.array([self.temperature[c] for c in CATEGORIES], dtype=np.float64)
        bias = np.array([self.bias[c] for c in CATEGORIES], dtype=np.float64)
        return np.asarray(logits, dtype=np.float64) / temps + bias

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    def decide(self, scores: dict[str, float]) -> tuple[dict[str, bool], bool, str]:
        """(categories, flagged, action) for calibrated scores.

        A category is on at or over its `review` threshold. `flagged` is any FLAGGING category
        on (offensive alone never flags). `action` is `auto` when a flagging category reaches
        its `auto` point, else `review` when flagged, else `none`.
        """
        categories = {c: bool(scores[c] >= self.review[c]) for c in CATEGORIES}
        flagged = any(categories[c] for c in FLAGGING)
        if any(scores[c] >= self.auto[c] for c in FLAGGING):
            action = "auto"
        elif flagged:
            action = "review"
        else:
            action = "none"
        return categories, flagged, action
