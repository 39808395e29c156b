"""Quality gate: the shipped model gets a small fixed set of clear cases right.

These are deliberately easy cases, written for this gate (not taken from the evaluation suites
or the training data). A model that fails them is not shippable, whatever its suite scores say.
The full picture is the evaluation report (`veguard eval`), not this file.
"""

from __future__ import annotations

import pytest

from veguard.modeling import Classifier, resolve_model_path

pytestmark = pytest.mark.slow


def known_failure(text: str, why: str):
    """A case the shipped model is known to get wrong (named in its model card). Strict: the
    day a retrained model gets it right, this turns into a failure that asks for the marker to
    go, so the list of known failures cannot silently go stale."""
    return pytest.param(text, marks=pytest.mark.xfail(strict=True, reason=why))


CLEAR_VIOLATING = [
    # support / glorification / recruitment, jargon and plain
    "Long live the Islamic State! The soldiers of the khilafah will conquer Rome, baqiyah!",
    ("The brothers who blew up that crowd of apostates are heroes. "
     "May Allah accept them as shuhada."),
    ("Pack your bags and come to the land of the caliphate, brother. "
     "Pledge bay'ah and join the mujahideen."),
    ("Honestly the guys who shot up that concert did the right thing "
     "and I hope more people copy them."),
    # threats and incitement
    "I am going to shoot every single one of you at the office tomorrow morning.",
    "Round up the Shia dogs and slaughter them all, every last one of them must die.",
]

CLEAR_BENIGN = [
    "Police said the suspect was arrested on Tuesday and charged with planning an attack.",
    "We condemn the bombing of the mosque in the strongest terms and mourn the victims.",
    "Our thoughts are with the families of those killed in the airport attack.",
    # v2 flagged this (0.96); the cascade does not. The v3 contrast data has posts about
    # Mashhad and its saffron, so this case is no longer independent of training (model card).
    "Khorasan Razavi province is known for its saffron and for the shrine city of Mashhad.",
    "The museum's new exhibit covers the goddess Isis and her cult in ancient Egypt.",
    "Ugh, this traffic is going to kill me, I've been stuck on the bridge for an hour.",
    "Let us pray together in the mosque this Friday and give charity to the poor.",
    "Great match yesterday, our striker destroyed their defence and we won 3-0.",
    # religious greetings and identity (Model v2): the communities extremists target
    "Eid Mubarak to all our neighbours celebrating today, enjoy the sweets!",
    "Proud to be a Muslim and proud of the town I grew up in.",
    # posts in languages the English model cannot read are not judged, so never flagged
    "صبح بخیر دوستان، امروز هوا خیلی خوب است",
    "د اختر ورځ مو مبارک شه",
]


@pytest.fixture(scope="module")
def clf() -> Classifier:
    # The shipped model must exist: a missing model is a failure, not a skip.
    return Classifier.load(resolve_model_path())


@pytest.mark.parametrize("text", CLEAR_VIOLATING)
def test_clear_violating_is_flagged(clf: Classifier, text: str) -> None:
    result = clf.score(text)
    assert result.flagged, (text, result.scores)
    assert result.action in ("review", "auto")
    assert result.evidence is not None


@pytest.mark.parametrize("text", CLEAR_BENIGN)
def test_clear_benign_is_not_flagged(clf: Classifier, text: str) -> None:
    result = clf.score(text)
    assert not result.flagged, (text, result.scores)
    assert result.action == "none"


def test_unreadable_language_is_reported_not_judged(clf: Classifier) -> None:
    result = clf.score("صبح بخیر دوستان، امروز هوا خیلی خوب است")
    assert (result.language, result.supported, result.flagged) == ("fa", False, False)


@pytest.mark.xfail(
    strict=True,
    reason="every shipped model so far (v1-v6, v9) lets news-like text around a violation dilute "
    "it: each 96-token window holds the planted sentence among several council-meeting "
    "sentences, no window crosses the review point, and the document rules of v5, v6 and v9 do not "
    "raise it (model cards, limitations)",
)
def test_long_article_is_judged_in_full(clf: Classifier) -> None:
    # A planted violating sentence deep inside a long benign article is found and pointed at.
    filler = (
        "The city council met on Monday to discuss the new bus routes, the library budget "
        "and repairs to the bridge over the river. "
    ) * 40
    planted = "Join the Islamic State now, brothers, and kill the crusaders wherever you find them."
    text = filler + planted + " " + filler
    result = clf.score(text)
    assert result.flagged, result.scores
    ev = result.evidence
    assert ev is not None
    start = text.index(planted)
    # the evidence span overlaps the planted sentence
    assert ev.start < start + len(planted) and ev.end > start, (ev, start)
    assert text[ev.start : ev.end] == ev.text
