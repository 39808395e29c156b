"""veguard.language: romanised Urdu/Hindi (Latin letters) is not English and is not judged.

py3langid reads these posts as English or as some other Latin-script language with low
confidence, so before the lexicon rule they reached the English model (which flagged a plain
greeting as extremism). Posts written for these tests.
"""

import pytest

from veguard.language import _read_with_langid, dominant_script, english_view, read

ROMANISED_URDU = [
    "Assalam o alaikum, kya haal hai sab ka?",
    "bhai aaj match dekhne chalein?",
    "yaar mera phone kho gaya, bohat pareshan hoon",
    "hum aaj raat ko milenge, tum kab aaoge",
    "tum to pagal ho yaar",  # "to" is an English function word too
    "mujhe nahi pata ke woh kab aayega",
    "ammi ne kaha ke khana tayyar hai",
    "main ghar ja raha hoon, baad mein baat karte hain",
    "Kya scene hai bhai? Sab theek?",
]
ENGLISH = [
    "Eid Mubarak everyone, have a blessed day",
    "Assalamu alaikum brothers and sisters, the iftar is at 7 tonight",
    "Inshallah we will win, mashallah brother",
    "Main Street is closed to traffic today",
    "Karen said she will be late to the meeting",
    "Ka Ki Ko Se Karen meets Hai",  # names, not Urdu
    "bhai please share the link",
    "Bhai jaan, shukriya for the help",
    "they should all be killed, every one of them",
]
# Code-mixed posts that are mostly English: judged, as English.
CODE_MIXED_ENGLISH = [
    "kya scene hai, the match was great and we are going again tomorrow",
    "Yaar this weather is so bad, traffic is crazy today, office late ho gaya.",
    "yaar I want to go to the match, kya kehte ho",
    "bhai ye kya scene hai, I can't believe it",
]


@pytest.mark.parametrize("text", ROMANISED_URDU)
def test_romanised_urdu_is_urdu_and_not_supported(text):
    reading = read(text)
    assert (reading.language, reading.script, reading.supported) == ("ur", "latin", False)


@pytest.mark.parametrize("text", ENGLISH + CODE_MIXED_ENGLISH)
def test_english_and_mostly_english_code_mixed_stay_supported(text):
    reading = read(text)
    assert (reading.language, reading.supported) == ("en", True)


def test_romanised_urdu_latin_part_of_an_arabic_script_post_is_not_judged():
    reading = read("رمضان مبارک bhai sab ko, kya haal hai")
    assert reading.supported is False
    assert reading.language != "en"


def test_shortcut_agrees_with_language_id_on_romanised_urdu():
    # The plain-English shortcut must never take romanised Urdu ("tum to pagal ho" has an
    # English function word share of 1/4): the full path and read() agree.
    for t in ROMANISED_URDU + ENGLISH + CODE_MIXED_ENGLISH:
        assert read(t) == _read_with_langid(t, dominant_script(t), english_view(t)), t


def test_romanised_urdu_is_never_flagged(tiny_model_factory):
    from veguard.modeling import Classifier
    from veguard.taxonomy import CATEGORIES
    from veguard.thresholds import Thresholds

    # Thresholds of 0 flag every text the model judges: romanised Urdu must still not flag.
    th = Thresholds(review={c: 0.0 for c in CATEGORIES}, auto={c: 0.0 for c in CATEGORIES})
    clf = Classifier.load(tiny_model_factory(thresholds=th))
    results = clf.score(ROMANISED_URDU + CODE_MIXED_ENGLISH[:1])
    for text, r in zip(ROMANISED_URDU, results):
        assert (r.language, r.supported, r.flagged, r.action) == ("ur", False, False, "none"), text
        assert all(v == 0.0 for v in r.scores.values())
    mixed = results[-1]
    assert (mixed.language, mixed.supported, mixed.flagged) == ("en", True, True)
