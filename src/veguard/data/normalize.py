"""Text normalisation: one function, used by corpus building, training and scoring alike.

What it does: HTML entities, Unicode NFKC, zero-width and control characters removed,
URLs -> `[URL]`, @mentions -> `@user`, whitespace collapsed. Emoji are kept: they carry
meaning (flags, weapons, skulls) in this domain. The steps are one public list, `STEPS`:
`normalize()` applies them in order, and `veguard.offsets` replays the same list match by
match to map evidence spans back to the input, so the two cannot drift apart.
What it leaves out: lower-casing, homoglyph folding and leetspeak undoing. The tokenizer
lower-cases; obfuscation is something the model must learn, and the robustness suite measures.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

URL_TOKEN = "[URL]"
USER_TOKEN = "@user"

# What html.unescape() matches (the standard library's private `html._charref`, spelled out
# here so nothing reaches into it); each match is unescaped with the public html.unescape.
CHARREF = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")
# A character and the combining marks after it: NFKC applied per cluster for offset tracking.
CLUSTER = re.compile(
    r"(?s).[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u3099\u309a]*"
)
URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+|\bpic\.twitter\.com/\S+|\bt\.co/\S+")
USER = re.compile(r"(?<![\w@])@\w{1,30}")
# Zero-width and invisible format characters, bidi controls included. ZWJ (U+200D) goes too:
# dropping it inside emoji sequences is harmless for classification.
INVISIBLE = re.compile(
    "[\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u180e\u061c\u202a-\u202e\u2066-\u2069]"
)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # exactly Unicode category Cc
WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Step:
    """One rewrite: every match of `pattern` becomes `repl` (a string or a function of it).

    `whole` is the whole-text form where it differs from matching piecewise (NFKC can
    compose across clusters); `until_stable` repeats the step up to that many times
    (entities double-escaped in scraped data, "&amp;amp;").
    """

    name: str
    pattern: re.Pattern[str]
    repl: str | Callable[[re.Match[str]], str]
    whole: Callable[[str], str] | None = None
    until_stable: int = 1

    def __call__(self, text: str) -> str:
        for _ in range(self.until_stable):
            new = self.whole(text) if self.whole else self.pattern.sub(self.repl, text)
            if new == text:
                break
            text = new
        return text


STEPS: tuple[Step, ...] = (
    Step("entities", CHARREF, lambda m: html.unescape(m.group()), html.unescape, until_stable=3),
    Step("nfkc", CLUSTER, lambda m: unicodedata.normalize("NFKC", m.group()),
         lambda t: unicodedata.normalize("NFKC", t)),
    Step("invisible", INVISIBLE, ""),
    # Control characters become spaces (whitespace ones too: the whitespace step collapses them).
    Step("controls", CONTROL, " "),
    Step("urls", URL, URL_TOKEN),
    Step("users", USER, USER_TOKEN),
    Step("whitespace", WHITESPACE, " "),
)


def normalize(text: str) -> str:
    """Normalise one text for the model: `STEPS` in order, then strip.

    >>> normalize("Join&nbsp;us @abu_x https://t.co/abc\\u200b  now")
    'Join us @user [URL] now'
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize expects str, got {type(text).__name__}")
    for step in STEPS:
        text = step(text)
    return text.strip()
