"""veguard.language: what the English model may judge (Model v2, issue 11 item 2)."""

import pytest

from veguard.language import english_view, read

# Ordinary posts in languages the model cannot read, written for these tests.
OTHER = [
    ("صبح بخیر، امروز هوا خیلی خوب است", "fa"),
    ("نن ورځ هوا ډیره ښه ده", "ps"),
    ("زه نن ښار ته ځم، ته څه کوې؟", "ps"),
    ("رمضان مبارک، اللہ آپ سب کو خوش رکھے", "ur"),
    ("صباح الخير، كيف حالك اليوم؟", "ar"),
    ("Сегодня отличная погода", "ru"),
    ("Субҳ ба хайр, имрӯз ҳаво хеле хуб аст", "tg"),
    ("我们明天去公园吧", "zh"),
    ("आज मौसम बहुत अच्छा है", "hi"),
    ("Bonjour à tous, bonne journée", "fr"),
]
ENGLISH = [
    "Eid Mubarak to everyone celebrating today!",
    "lol that match was insane",
    "yeah faggots",  # short abusive English must still be judged
    "#Caliphate_News #WilayatKarkuk Detonating a Parked #VBIED on Apostate Police Patrol",
    "I h8 🧕🏼",
]


@pytest.mark.parametrize("text,language", OTHER)
def test_other_languages_are_not_supported(text, language):
    reading = read(text)
    assert reading.language == language
    assert reading.supported is False


@pytest.mark.parametrize("text", ENGLISH)
def test_english_is_supported(text):
    reading = read(text)
    assert reading.supported is True
    assert reading.language == "en"


def test_mixed_post_is_judged_on_its_english_part():
    text = "Allahu akbar الله أكبر death to the kuffar, join the dawla"
    reading = read(text)
    assert reading.supported is True
    assert "الله" not in reading.english_view
    assert "death to the kuffar" in reading.english_view


def test_english_view_keeps_offsets():
    text = "join us الله أكبر now, دې ورځ"
    view = english_view(text)
    assert len(view) == len(text)
    assert view.index("now") == text.index("now")
    assert view.split() == ["join", "us", "now,"]


def test_no_letters_is_supported():
    assert read("🔥🔥🔥 [URL]").supported is True
    assert read("12345").language == "und"


def test_rejects_non_text():
    with pytest.raises(TypeError):
        read(None)


def test_emoji_become_words_with_exact_spans():
    from veguard.language import emoji_to_words

    text = "I hate 🏳️‍🌈 people 🐷"
    out, spans = emoji_to_words(text)
    assert "rainbow" in out and "pig" in out
    assert len(spans) == len(out)
    a = out.index("rainbow")
    start, end = spans[a][0], spans[a + len("rainbow") - 1][1]
    assert text[start:end] == "🏳️\u200d🌈"  # the whole ZWJ sequence, one emoji
    b = out.index("people")
    assert text[spans[b][0]:spans[b + 5][1]] == "people"


def test_hateful_and_benign_emoji_use_differ_for_the_model():
    from veguard.language import emoji_to_words

    assert emoji_to_words("I hate 🏳️‍🌈")[0] != emoji_to_words("I love 🏳️‍🌈")[0]
    assert emoji_to_words("I love 🏳️‍🌈")[0] != emoji_to_words("I love 🐷")[0]


def test_ascii_text_is_unchanged():
    from veguard.language import emoji_to_words

    out, spans = emoji_to_words("plain text")
    assert out == "plain text" and spans[0] == (0, 1) and spans[-1] == (9, 10)


def _corpus_sample(n: int) -> list[str]:
    try:
        from veguard.data.corpus import load_corpus

        df = load_corpus()
    except (FileNotFoundError, OSError, ValueError):
        return []
    return df.sample(min(n, len(df)), random_state=0)["text"].tolist()


def test_plain_english_shortcut_reads_exactly_what_language_id_reads():
    # The shortcut (no py3langid for all-Latin text with English function words) must give
    # the Reading the full path gives: same language, script, support and view.
    from veguard.language import _read_with_langid, dominant_script

    texts = [t for t, _ in OTHER] + ENGLISH + [
        "Bonjour à tous, bonne journée et à demain",
        "hum aaj raat ko milenge, tum kab aaoge",  # romanised Urdu
        "ich bin nicht in the mood today",
        "der die das und ist nicht",
        "ok", "a b", "xyz",
    ] + _corpus_sample(3000)
    shortcut = 0
    for t in texts:
        script = dominant_script(t)
        if script == "none":
            continue
        full = _read_with_langid(t, script, english_view(t))
        assert read(t) == full, t
        shortcut += english_view(t) == t and full.language == "en" and full.supported
    assert shortcut > 0


def test_english_text_does_not_load_language_id():
    import subprocess
    import sys

    code = ("import sys; from veguard.language import read; "
            "read('they should all be killed, every one of them'); "
            "print('py3langid' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
