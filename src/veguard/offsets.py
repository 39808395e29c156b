"""Normalised -> original character offsets, for the evidence span of a flagged text.

`normalize` rewrites text (entities, NFKC, removals, URL/@user tokens, whitespace), so a span
of the normalised text is not a span of the input. `normalize_with_offsets` replays the same
`veguard.data.normalize.STEPS`, match by match, keeping for every character the input span it
came from, and checks the replay equals `normalize`. If it does not (a case the replay gets
wrong, e.g. NFKC composing across clusters), `to_original_span` falls back to finding the
normalised span's text in the input, and failing that to proportional positions:
approximate, but always a valid span of the input.

What it leaves out: the normalisation itself (`veguard.data.normalize`) and choosing which
span is the evidence (`veguard.modeling.Classifier`).
"""

from __future__ import annotations

import re

from veguard.data.normalize import STEPS, normalize

Src = list[tuple[int, int]]


def _sub(s: str, src: Src, pattern: re.Pattern[str], repl) -> tuple[str, Src]:
    out, out_src, pos = [], [], 0
    for m in pattern.finditer(s):
        out.append(s[pos : m.start()])
        out_src.extend(src[pos : m.start()])
        r = repl(m) if callable(repl) else repl
        if m.end() > m.start():
            span = (src[m.start()][0], src[m.end() - 1][1])
        else:
            span = src[m.start()] if m.start() < len(src) else (src[-1][1], src[-1][1])
        out.append(r)
        out_src.extend([span] * len(r))
        pos = m.end()
    out.append(s[pos:])
    out_src.extend(src[pos:])
    return "".join(out), out_src



def normalize_with_offsets(text: str) -> tuple[str, Src]:
    """`normalize(text)` plus, per output character, the (start, end) input span it came from.

    Raises ValueError when the replay does not reproduce `normalize` exactly.
    """
    s, src = text, [(i, i + 1) for i in range(len(text))]
    for step in STEPS:
        for _ in range(step.until_stable):
            new, new_src = _sub(s, src, step.pattern, step.repl)
            if new == s:
                break
            s, src = new, new_src
    lead = len(s) - len(s.lstrip())
    s, src = s.strip(), src[lead : lead + len(s.strip())]
    if s != normalize(text):
        raise ValueError("offset replay differs from normalize()")
    return s, src


def to_original_span(text: str, norm: str, a: int, b: int) -> tuple[int, int]:
    """Map the span [a, b) of `norm` (= normalize(text)) to a span of `text`."""
    a, b = max(0, a), min(len(norm), b)
    if b <= a:
        return 0, len(text)
    try:
        _, src = normalize_with_offsets(text)
        return src[a][0], src[b - 1][1]
    except ValueError:
        pass
    piece = norm[a:b]
    i = text.find(piece)
    if i < 0:
        i = text.lower().find(piece.lower())
    if i >= 0 and len(text.lower()) == len(text):
        return i, i + len(piece)
    scale = len(text) / max(1, len(norm))
    return int(a * scale), min(len(text), max(int(a * scale) + 1, round(b * scale)))

