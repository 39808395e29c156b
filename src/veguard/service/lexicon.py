"""The operator's lexicon for texts the model cannot read, and the action they get.

A text in a language or script the English model cannot read (`supported: false`) is never
judged by the model. What happens to it is the service's `unsupported_action` setting:
`none` (nothing), `review` (every such text goes to human review) or `lexicon` (the default:
review only when the text contains a term of the operator's lexicon file, the
`unsupported_lexicon` setting; without a file, nothing). A match in a violating bank of
known content raises the action in any language too, but that is `veguard.banks`, not here.

The lexicon file is UTF-8, one term per line; blank lines and lines starting with `#` are
skipped. Terms and texts are compared after `normalize()` and case folding; a term matches
as a whole word (no letter or digit just before or after it), except at an edge written in a
script that does not put spaces between words (Chinese, Japanese, Thai, ...), where any
position matches.
What it leaves out: stemming and transliteration (list the spellings you mean).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from veguard.data.normalize import normalize

ACTIONS = ("none", "lexicon", "review")
MAX_TERM_CHARS = 200
# Scripts written without spaces between words: a term edge in them needs no word boundary.
_UNSPACED = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
                       "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def _key(text: str) -> str:
    return normalize(text).casefold()


@dataclass(frozen=True)
class Lexicon:
    terms: tuple[str, ...]  # case-folded, normalised, longest first
    source: str = ""

    def __post_init__(self) -> None:
        parts = []
        for t in self.terms:
            head = "" if _UNSPACED.match(t[0]) else r"(?<!\w)"
            tail = "" if _UNSPACED.match(t[-1]) else r"(?!\w)"
            parts.append(f"{head}{re.escape(t)}{tail}")
        object.__setattr__(self, "_pattern", re.compile("|".join(parts)) if parts else None)

    @classmethod
    def from_terms(cls, terms, source: str = "") -> Lexicon:
        keys = {_key(t).strip() for t in terms}
        return cls(tuple(sorted((k for k in keys if k), key=lambda k: (-len(k), k))), source)

    @classmethod
    def load(cls, path: str | Path) -> Lexicon:
        """Read a lexicon file; ValueError names the file and line of a bad term."""
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise ValueError(f"{path}: cannot read the lexicon: {e}") from None
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: the lexicon is not UTF-8 ({e.reason} at byte "
                             f"{e.start})") from None
        terms = []
        for n, line in enumerate(lines, start=1):
            term = line.strip()
            if not term or term.startswith("#"):
                continue
            if "\x00" in term or len(term) > MAX_TERM_CHARS:
                raise ValueError(f"{path}:{n}: a term must be at most {MAX_TERM_CHARS} "
                                 "characters without NUL")
            terms.append(term)
        if not terms:
            raise ValueError(f"{path}: the lexicon has no terms")
        return cls.from_terms(terms, str(path))

    def find(self, text: str) -> list[str]:
        """The lexicon terms in `text`, in order of first appearance, each once."""
        if self._pattern is None:
            return []
        return list(dict.fromkeys(m.group(0) for m in self._pattern.finditer(_key(text))))


def apply_unsupported(results: list, texts: list[str], action: str,
                      lexicon: Lexicon | None) -> None:
    """Set the action of the results the model could not read, per the setting (in place).

    `review` on a lexicon match also records the matched terms in `extra["lexicon"]`, so the
    caller and the reviewer see why an unjudged text was sent to review.
    """
    if action not in ACTIONS:
        raise ValueError(f"unsupported_action: expected one of {', '.join(ACTIONS)}, "
                         f"got {action!r}")
    for r, text in zip(results, texts, strict=True):
        if r.supported or action == "none" or not text.strip():
            continue
        if action == "review":
            r.action = "review"
            continue
        found = lexicon.find(text) if lexicon is not None else []
        if found:
            r.action = "review"
            r.extra = {**r.extra, "lexicon": found}
