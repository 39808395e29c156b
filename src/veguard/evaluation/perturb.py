"""Deterministic, seeded text perturbations for the robustness suite.

Each perturbation mimics a way people dodge keyword filters: typos (adjacent character
swaps), leetspeak, broken-up or run-together words, invisible zero-width characters,
look-alike letters from other scripts (homoglyphs) and emoji standing in for words.
`perturb(name, text, seed, key)` is a pure function: the same (name, text, seed, key) always
gives the same output, because its random generator is seeded from those values (Python seeds
a `random.Random` from a string through SHA-512, independent of PYTHONHASHSEED).

A perturbation returns the text unchanged when it has nothing to work on (e.g. no word in the
emoji table); the runner counts and skips those cases rather than scoring a no-op.
What it leaves out: paraphrase, translation and other meaning-level rewrites.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

_WORD = re.compile(r"[A-Za-z]+")

LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7", "l": "1", "b": "8"}
# Latin -> Cyrillic/Greek look-alikes. NFKC does not fold these, so they survive
# normalisation and reach the model, as they do on real platforms.
HOMOGLYPHS = {
    "a": "\u0430", "c": "\u0441", "e": "\u0435", "i": "\u0456", "o": "\u043e",
    "p": "\u0440", "x": "\u0445", "y": "\u0443", "s": "\u0455", "A": "\u0391",
    "B": "\u0392", "E": "\u0395", "H": "\u0397", "K": "\u039a", "M": "\u039c",
    "O": "\u039f", "T": "\u03a4",
}
ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
# Words that people write as emoji in this domain; matched whole-word, case-insensitively.
EMOJI = {
    "gun": "\U0001f52b", "guns": "\U0001f52b", "shoot": "\U0001f52b",
    "bomb": "\U0001f4a3", "bombs": "\U0001f4a3", "explosion": "\U0001f4a5",
    "knife": "\U0001f52a", "kill": "\U0001f52a", "killed": "\U0001f52a",
    "dead": "\U0001f480", "death": "\U0001f480", "die": "\U0001f480",
    "fire": "\U0001f525", "burn": "\U0001f525", "flag": "\U0001f3f4",
    "blood": "\U0001fa78", "love": "\u2764\ufe0f", "heart": "\u2764\ufe0f",
    "pray": "\U0001f64f", "prayers": "\U0001f64f", "god": "\u261d\ufe0f",
    "allah": "\u261d\ufe0f", "war": "\u2694\ufe0f", "sword": "\U0001f5e1\ufe0f",
    "strong": "\U0001f4aa", "victory": "\u270c\ufe0f", "brothers": "\U0001f91d",
}


def _rng(name: str, text: str, seed: int, key: str) -> random.Random:
    return random.Random(f"{seed}:{name}:{key}:{text}")


def _some(rng: random.Random, items: list, fraction: float) -> list:
    """A sorted random subset: about `fraction` of `items`, at least one when any exist."""
    if not items:
        return []
    k = max(1, round(len(items) * fraction))
    # Sample positions, not items, so any item type works and the order stays textual.
    return [items[i] for i in sorted(rng.sample(range(len(items)), k))]


def char_swap(text: str, rng: random.Random) -> str:
    """Swap two adjacent inner letters in about a third of the words of 4+ letters."""
    chars = list(text)
    words = [m for m in _WORD.finditer(text) if len(m.group()) >= 4]
    for m in _some(rng, words, 1 / 3):
        i = rng.randrange(m.start() + 1, m.end() - 2)  # keep first and last letters
        if chars[i] == chars[i + 1]:
            continue
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def _substitute(text: str, rng: random.Random, table: dict[str, str], fraction: float) -> str:
    spots = [i for i, ch in enumerate(text) if ch in table]
    chars = list(text)
    for i in _some(rng, spots, fraction):
        chars[i] = table[chars[i]]
    return "".join(chars)


def leetspeak(text: str, rng: random.Random) -> str:
    """Replace about half of the leet-able lower-case letters with digits."""
    return _substitute(text, rng, LEET, 0.5)


def homoglyph(text: str, rng: random.Random) -> str:
    """Replace about a third of the letters that have a look-alike with it."""
    return _substitute(text, rng, HOMOGLYPHS, 1 / 3)


def _insert_in_words(
    text: str, rng: random.Random, make: Callable[[], str], fraction: float
) -> str:
    words = [m for m in _WORD.finditer(text) if len(m.group()) >= 3]
    cuts = sorted({rng.randrange(m.start() + 1, m.end()) for m in _some(rng, words, fraction)})
    out, last = [], 0
    for c in cuts:
        out += [text[last:c], make()]
        last = c
    out.append(text[last:])
    return "".join(out)


def space_insert(text: str, rng: random.Random) -> str:
    """Break about a third of the words of 3+ letters with a space ("ki ll")."""
    return _insert_in_words(text, rng, lambda: " ", 1 / 3)


def space_remove(text: str, rng: random.Random) -> str:
    """Run about a third of neighbouring words together by dropping the space between them."""
    gaps = [m.start() for m in re.finditer(r"(?<=\w) (?=\w)", text)]
    drop = set(_some(rng, gaps, 1 / 3))
    return "".join(ch for i, ch in enumerate(text) if i not in drop)


def zero_width(text: str, rng: random.Random) -> str:
    """Hide zero-width characters inside about half of the words of 3+ letters."""
    return _insert_in_words(text, rng, lambda: rng.choice(ZERO_WIDTH), 0.5)


def emoji(text: str, rng: random.Random) -> str:
    """Replace words from the emoji table (all of them: there are rarely more than one)."""
    return re.sub(
        r"[A-Za-z]+",
        lambda m: EMOJI.get(m.group().lower(), m.group()),
        text,
    )


PERTURBATIONS: dict[str, Callable[[str, random.Random], str]] = {
    "char_swap": char_swap,
    "leetspeak": leetspeak,
    "space_insert": space_insert,
    "space_remove": space_remove,
    "zero_width": zero_width,
    "homoglyph": homoglyph,
    "emoji": emoji,
}


def perturb(name: str, text: str, seed: int = 0, key: str = "") -> str:
    """Apply perturbation `name` to `text`, deterministically for (seed, key, text).

    >>> a = perturb("leetspeak", "join the state", seed=1)
    >>> a == perturb("leetspeak", "join the state", seed=1)
    True
    """
    if name not in PERTURBATIONS:
        raise ValueError(
            f"unknown perturbation {name!r}; expected one of {', '.join(PERTURBATIONS)}"
        )
    return PERTURBATIONS[name](text, _rng(name, text, seed, key))
