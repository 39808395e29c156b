"""Rendering helpers for the reviewer page: the Jinja2 environment and the evidence highlight.

Content is hostile. Autoescape is on for every template, and the one piece of HTML built in
Python (the highlighted evidence span) escapes each part of the raw text first and only then
wraps the escaped span in <mark>: no HTML is ever built from unescaped text.

What it leaves out: routes (routes/web.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def highlight(text: str, evidence: dict | None) -> Markup:
    """`text` escaped, with the evidence span (offsets into the raw text) wrapped in <mark>."""
    start = end = None
    if evidence:
        s, e = evidence.get("start"), evidence.get("end")
        if isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= len(text):
            start, end = s, e
    if start is None:
        return escape(text)
    return (escape(text[:start]) + Markup('<mark class="evidence">') + escape(text[start:end])
            + Markup("</mark>") + escape(text[end:]))


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
    env.globals["highlight"] = highlight
    return env
