"""Text normalisation: one function, used by corpus building, training and scoring alike.

What it does: Unicode NFKC, HTML entities, zero-width and control characters removed,
URLs -> `[URL]`, @mentions -> `@user`, whitespace collapsed. Emoji are kept: they carry
meaning (flags, weapons, skulls) in this domain.
What it leaves out: lower-casing, homoglyph folding and leetspeak undoing. The tokenizer
lower-cases; obfuscation is something the model must learn, and the robustness suite measures.
"""

from __future__ import annotations

import html
import re
import unicodedata

URL_TOKEN = "[URL]"
USER_TOKEN = "@user"

_URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+|\bpic\.twitter\.com/\S+|\bt\.co/\S+")
_USER = re.compile(r"(?<![\w@])@\w{1,30}")
# Zero-width and invisible format characters (kept: ZWJ inside emoji sequences is harmless
# to drop for classification, so drop it too).
_INVISIBLE = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u180e\u061c\u202a-\u202e\u2066-\u2069]")
_WS = re.compile(r"\s+")


def _drop_controls(text: str) -> str:
    # Cc (control) characters other than whitespace become spaces; Cf handled by _INVISIBLE.
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)


def normalize(text: str) -> str:
    """Normalise one text for the model.

    >>> normalize("Join&nbsp;us @abu_x https://t.co/abc\\u200b  now")
    'Join us @user [URL] now'
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize expects str, got {type(text).__name__}")
    # Entities may be double-escaped in scraped data ("&amp;amp;"): unescape until stable.
    for _ in range(3):
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = _drop_controls(text)
    text = _URL.sub(URL_TOKEN, text)
    text = _USER.sub(USER_TOKEN, text)
    return _WS.sub(" ", text).strip()
