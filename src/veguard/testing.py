"""A fixed-score fake classifier: the seam that lets the service, the evaluation runner and
their tests run without a model.

Scores come from keyword rules (deterministic, no randomness), so a test can predict them:
a text containing a trigger word for a category scores 0.95 there, otherwise 0.02.
"""

from __future__ import annotations

from veguard.data.normalize import normalize
from veguard.result import Evidence, ScoreResult
from veguard.routing import RoutingModel, attach
from veguard.taxonomy import CATEGORIES
from veguard.thresholds import Thresholds

DEFAULT_TRIGGERS: dict[str, tuple[str, ...]] = {
    "extremism": ("caliphate soldiers", "join the state", "baqiyah"),
    "violence": ("kill them", "i will shoot"),
    "hate": ("vermin",),
    "offensive": ("idiot",),
}


class FakeClassifier:
    """Same public surface as `veguard.Classifier`: `name`, `thresholds`, `score()`, `route()`.

    `routing`: a real routing model to apply to extremism-flagged results, as the Classifier
    does (none by default: results carry no `routing`).
    """

    def __init__(self, triggers: dict[str, tuple[str, ...]] | None = None, name: str = "fake",
                 routing: RoutingModel | None = None):
        self.triggers = triggers or DEFAULT_TRIGGERS
        self.name = name
        self.thresholds = Thresholds.default()
        self.routing = routing

    def score_one(self, text: str) -> ScoreResult:
        low = text.lower()
        scores, evidence = {}, None
        for c in CATEGORIES:
            hit = next((t for t in self.triggers.get(c, ()) if t in low), None)
            scores[c] = 0.95 if hit else 0.02
            if hit and evidence is None:
                i = low.index(hit)
                evidence = Evidence(i, i + len(hit), text[i : i + len(hit)], c)
        categories, flagged, action = self.thresholds.decide(scores)
        return ScoreResult(flagged, categories, scores, action, evidence)

    def score(self, texts: str | list[str], batch_size: int = 64):
        if isinstance(texts, str):
            return self.score([texts])[0]
        results = [self.score_one(t) for t in texts]
        attach(results, [normalize(t) for t in texts], self.routing)
        return results

    def route(self, texts: list[str]) -> list[dict] | None:
        if self.routing is None:
            return None
        return self.routing.predict([normalize(t) for t in texts])
