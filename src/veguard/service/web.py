"""Rendering helpers for the reviewer page: the Jinja2 environment, the evidence highlight and
the display of invisible characters.

Content is hostile. Autoescape is on for every template, and the HTML built in Python (the
highlighted evidence span, the markers for invisible characters) escapes each part of the raw
text first and only then wraps it: no HTML is ever built from unescaped text.

Invisible and bidi characters (Unicode format characters such as U+202E RIGHT-TO-LEFT
OVERRIDE and U+200B ZERO WIDTH SPACE, and control characters other than newline and tab) are
shown as a visible `⟨U+202E⟩` marker, so "rtl\u202eegrof" cannot pass for "rtlforge"; the
`visible` filter does this for every field a template prints from content.

What it leaves out: routes (routes/web.py).
"""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def is_invisible(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat == "Cf" or (cat == "Cc" and ch not in "\n\t") or cat in ("Zl", "Zp") or ch in (
        "\u115f", "\u1160", "\u3164", "\uffa0")  # Hangul fillers: blank but not "space"


def has_invisible(*texts: str | None) -> bool:
    return any(is_invisible(ch) for t in texts if t for ch in t)


def visible(text: str | None) -> Markup:
    """`text` escaped, each invisible or bidi character replaced by a visible marker."""
    if not text:
        return Markup("")
    out, run = [], []
    for ch in text:
        if is_invisible(ch):
            out.append(escape("".join(run)))
            run = []
            # The marker is built from the code point's hex digits only: nothing to escape.
            out.append(Markup('<span class="invisible" title="invisible character">'
                              f'\u27e8U+{ord(ch):04X}\u27e9</span>'))
        else:
            run.append(ch)
    out.append(escape("".join(run)))
    return Markup("").join(out)


def highlight(text: str, evidence: dict | None) -> Markup:
    """`text` shown visibly (see `visible`), with the evidence span (offsets into the raw
    text) wrapped in <mark id="evidence">."""
    start = end = None
    if evidence:
        s, e = evidence.get("start"), evidence.get("end")
        if isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= len(text):
            start, end = s, e
    if start is None:
        return visible(text)
    return (visible(text[:start]) + Markup('<mark class="evidence">') + visible(text[start:end])
            + Markup("</mark>") + visible(text[end:]))


def evidence_passage(text: str, evidence: dict | None, context: int = 200) -> Markup | None:
    """The evidence span with up to `context` characters either side, for long items."""
    if not evidence:
        return None
    s, e = evidence.get("start"), evidence.get("end")
    if not (isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= len(text)):
        return None
    a, b = max(0, s - context), min(len(text), e + context)
    ev = {"start": s - a, "end": e - a}
    return ((Markup("… ") if a else Markup("")) + highlight(text[a:b], ev)
            + (Markup(" …") if b < len(text) else Markup("")))


def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _compact(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True)
    env.filters["when"] = _when
    env.filters["compact"] = _compact
    env.filters["visible"] = visible
    env.globals["highlight"] = highlight
    env.globals["evidence_passage"] = evidence_passage
    env.globals["has_invisible"] = has_invisible
    return env
