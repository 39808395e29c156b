"""The result of scoring one text: what the CLI prints, the API returns and the queue stores.

Deliberately free of torch so the service, the evaluation runner and tests can use it
with a fake classifier.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from veguard.taxonomy import CATEGORIES


@dataclass
class Evidence:
    """The character span of the input (not the normalised text) that drove the top score."""

    start: int
    end: int
    text: str
    category: str


@dataclass
class ScoreResult:
    flagged: bool
    categories: dict[str, bool]
    scores: dict[str, float]
    action: str = "none"  # one of taxonomy.ACTIONS
    evidence: Evidence | None = None
    extra: dict = field(default_factory=dict)  # e.g. number of windows scored
    # ISO 639-1 code (`veguard.language`), "und" when the text has no letters.
    language: str = "und"
    # False: the text is in a language or script the model cannot read; it was not judged,
    # its scores are 0 and it is never flagged by the model.
    supported: bool = True
    # Only on results flagged `extremism`, and only when the model directory has a routing
    # model (`veguard.routing`): {"movement": {"label", "score"}, "behaviour": {...}}.
    routing: dict | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["scores"] = {c: round(float(self.scores[c]), 6) for c in CATEGORIES}
        if not d["extra"]:
            d.pop("extra")
        if d["routing"] is None:
            d.pop("routing")
        return d
