"""What a bank stores about a text: its exact hash and its near-duplicate signature.

The contract, written once here (docs/BANKS.md explains it; the interchange format and the
index import it):

- `exact_hash(text)`: SHA-256 (hex) of `veguard.data.normalize(text)` encoded as UTF-8. The
  same normalisation the model sees, so a repost that differs only in invisible characters,
  HTML entities, handles (`@user`), links (`[URL]`) or whitespace is an exact match.
- `tokens(text)`: the matching view of a text: normalised, case-folded, accents stripped,
  then only word characters (`\\w+`). Emoji, punctuation and line breaks are gone; the
  `@user` / `[URL]` placeholders are dropped, so changed handles and added links cost nothing.
- `signature(tokens)`: MinHash over word shingles (every word and every pair of adjacent
  words: single words keep edited short posts similar, pairs keep word order), `NUM_PERM`
  32-bit values. Each shingle is
  hashed with CRC-32 and permuted by `h_i(x) = ((a_i * x + b_i) mod 2**64) >> 32` with
  `a_i, b_i` drawn once from `SEED`, so the signature is identical in every deployment and
  can be exchanged. Two signatures agree in a given position with probability equal to the
  Jaccard similarity of the two shingle sets.
- `passages(tokens)`: long texts are matched by passage: windows of `WINDOW` tokens. Entries
  are cut with stride `ENTRY_STRIDE`, queries with `QUERY_STRIDE`, so a query window is never
  more than `ENTRY_STRIDE / 2` tokens out of line with some entry window.

The shingle size, window and strides were chosen with `bench/banks.py` (docs/PERFORMANCE.md,
"Banks").

What it leaves out: storage, the index and thresholds (index.py, store.py); TLSH and
threatexchange formats (interchange.py).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
import zlib
from dataclasses import dataclass

import numpy as np

from veguard.data.normalize import URL_TOKEN, USER_TOKEN, normalize

NUM_PERM = 64
MIN_TOKENS = 6       # fewer tokens: exact matching only (short phrases are too common)
WINDOW = 40          # tokens per passage
ENTRY_STRIDE = 10    # entries: a window every 10 tokens
QUERY_STRIDE = 20    # queries: every 20 (cheaper; alignment is the entry side's job)
SEED = 14            # fixed forever: changing it changes every signature
SIGNATURE_VERSION = 1

_WORD = re.compile(r"\w+")
_USER_BLANK, _URL_BLANK = " " * len(USER_TOKEN), " " * len(URL_TOKEN)

_rng = np.random.RandomState(SEED)
_A = (_rng.randint(0, 2**32, NUM_PERM, dtype=np.uint64) << np.uint64(32)) | \
    _rng.randint(0, 2**32, NUM_PERM, dtype=np.uint64) | np.uint64(1)
_B = (_rng.randint(0, 2**32, NUM_PERM, dtype=np.uint64) << np.uint64(32)) | \
    _rng.randint(0, 2**32, NUM_PERM, dtype=np.uint64)
_SHIFT = np.uint64(32)


def exact_hash(text: str) -> str:
    """SHA-256 hex digest of the normalised text."""
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()


@dataclass
class Tokens:
    """The matching view of a text: its words, and (computed when asked) their spans in
    `norm`. Lookups that match nothing never pay for the spans."""

    norm: str
    words: list[str]
    masked: str  # norm with the placeholders blanked out (same length, same offsets)
    _spans: list[tuple[int, int]] | None = None

    def __len__(self) -> int:
        return len(self.words)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.norm.encode("utf-8")).hexdigest()

    def spans(self) -> list[tuple[int, int]]:
        if self._spans is None:
            self._spans = [m.span() for m in _WORD.finditer(self.masked)]
        return self._spans

    def span(self, i: int, j: int) -> tuple[int, int]:
        """Character span in `norm` of words [i, j)."""
        if not self.words or j <= i:
            return 0, 0
        sp = self.spans()
        return sp[i][0], sp[j - 1][1]


def _fold(word: str) -> str:
    word = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in word if not unicodedata.combining(c))


def tokens(text: str) -> Tokens:
    """Normalise once; the folded words of the normalised text, placeholders left out."""
    norm = normalize(text)
    # Blank the placeholders out with spaces: offsets stay those of `norm`.
    masked = norm.replace(USER_TOKEN, _USER_BLANK).replace(URL_TOKEN, _URL_BLANK)
    if masked.isascii():
        words = _WORD.findall(masked.lower())
    else:
        words = [_fold(w) for w in _WORD.findall(masked)]
    return Tokens(norm, words, masked)


def shingles(words: list[str]) -> set[str]:
    """Every word and every adjacent pair ("a b"): the set a signature is computed over."""
    return set(words) | {f"{a} {b}" for a, b in itertools.pairwise(words)}


def shingle_hashes(words: list[str]) -> set[int]:
    """CRC-32 of each shingle's UTF-8 bytes (== {crc32(s) for s in shingles(words)}); a pair's
    CRC continues from its first word's, so no pair string is ever built."""
    enc = [w.encode("utf-8") for w in words]
    first = [zlib.crc32(e) for e in enc]
    out = set(first)
    out.update(zlib.crc32(b" " + b, a) for a, b in zip(first, enc[1:]))
    return out


def signature(words: list[str]) -> np.ndarray:
    """MinHash signature (NUM_PERM uint32) of the words' shingle set; all-ones when empty."""
    hs = shingle_hashes(words)
    if not hs:
        return np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
    h = np.fromiter(hs, dtype=np.uint64, count=len(hs))
    # uint64 arithmetic wraps mod 2**64, which is the hash family's definition.
    permuted = (h[:, None] * _A[None, :] + _B[None, :]) >> _SHIFT
    return permuted.min(axis=0).astype(np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.count_nonzero(a == b)) / NUM_PERM


def windows(n_tokens: int, stride: int) -> list[tuple[int, int]]:
    """Token ranges [i, j) covering n tokens with windows of WINDOW; one range if short."""
    if n_tokens <= WINDOW:
        return [(0, n_tokens)]
    starts = list(range(0, n_tokens - WINDOW + 1, stride))
    if starts[-1] + WINDOW < n_tokens:  # the tail gets its own window
        starts.append(n_tokens - WINDOW)
    return [(s, s + WINDOW) for s in starts]


@dataclass
class Passage:
    """One window of a text: its signature and its words [i, j) (Tokens.span gives the
    characters)."""

    signature: np.ndarray
    i: int
    j: int

    @property
    def n_tokens(self) -> int:
        return self.j - self.i


def passages(toks: Tokens, stride: int) -> list[Passage]:
    return [Passage(signature(toks.words[i:j]), i, j) for i, j in windows(len(toks), stride)]


def entry_passages(text: str) -> tuple[str, list[Passage]]:
    """(exact hash, passages) for a text added to a bank."""
    toks = tokens(text)
    return toks.sha256, passages(toks, ENTRY_STRIDE)


def tlsh_digest(text: str) -> str | None:
    """threatexchange's `text_tlsh` signal for the text (None when py-tlsh is not installed
    or the text is too short or uniform for TLSH, which needs about 50 bytes)."""
    try:
        import tlsh
    except ImportError:
        return None
    digest = str(tlsh.hash(text.encode("utf-8")))
    return None if digest == "TNULL" else digest


def pack(sig: np.ndarray) -> bytes:
    return sig.astype("<u4").tobytes()


def unpack(raw: bytes) -> np.ndarray:
    if len(raw) != 4 * NUM_PERM:
        raise ValueError(f"a signature is {4 * NUM_PERM} bytes, got {len(raw)}")
    return np.frombuffer(raw, dtype="<u4").astype(np.uint32)
