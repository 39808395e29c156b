"""Contrast augmentation: wrap violating texts in benign frames, and spell-obfuscate texts.

`make_contrasts` puts a violating text inside a frame from `data/synthetic/frames.yaml`
(a news report quoting it, a condemnation, a rebuttal, an analysis, a court report...).
The result is labelled 0 on extremism, violence and hate: POLICY.md judges the speaker's
stance, and a quote inside reporting or rebuttal does not endorse. The contrast keeps the
source's `pair` (or `id`) so it lands in the same split as the text it quotes.

`obfuscate` is the small deterministic spelling-noise function used to derive the
`obfuscated`-style variants of hand-written examples.

What it leaves out: paraphrase, translation, and any frame that changes the stance of the
quote (e.g. approving re-posts); those would be positives and are hand-written instead.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import yaml

from veguard.data.synthetic import BENIGN_KINDS, FLAGGING_LABELS, STYLES
from veguard.paths import REPO_ROOT
from veguard.taxonomy import CONTEXTS

DEFAULT_FRAMES = REPO_ROOT / "data" / "synthetic" / "frames.yaml"
QUOTE = "{quote}"
MAX_QUOTE_WORDS = 60


def _load_yaml_list(path: Path, key: str) -> list:
    """The non-empty top-level list `key` of a YAML file; errors name the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read {key}: {exc}") from None
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path}: expected a top-level '{key}' list")
    return items


def load_frames(path: str | Path = DEFAULT_FRAMES) -> list[dict]:
    """Read and check the frames file: a list of {id, kind, context, text} with one {quote}."""
    path = Path(path)
    frames = _load_yaml_list(path, "frames")
    seen: set[str] = set()
    for i, frame in enumerate(frames):
        where = f"{path.name}:frames[{i}]"
        if not isinstance(frame, dict):
            raise ValueError(f"{where}: expected a mapping")  # noqa: TRY004 (bad file, not bad call)
        for field in ("id", "kind", "context", "text"):
            if not isinstance(frame.get(field), str) or not frame[field].strip():
                raise ValueError(f"{where}:{field}: missing or not a string")
        if frame["id"] in seen:
            raise ValueError(f"{where}:id: duplicate id {frame['id']!r}")
        seen.add(frame["id"])
        if frame["kind"] not in BENIGN_KINDS:
            raise ValueError(f"{where}:kind: {frame['kind']!r} is not a benign kind")
        if frame["context"] not in CONTEXTS:
            raise ValueError(f"{where}:context: unknown context {frame['context']!r}")
        if frame["text"].count(QUOTE) != 1:
            raise ValueError(f"{where}:text: must contain {QUOTE} exactly once")
    return frames


def _is_violating(row: dict) -> bool:
    # Rows from sources without our labels (e.g. pro-IS tweets) are passed in because they
    # violate; rows that carry labels are used only if one flagging label is positive.
    labelled = [row[name] for name in FLAGGING_LABELS if name in row]
    return not labelled or any(value == 1 for value in labelled)


def _clean_quote(text: str) -> str:
    text = " ".join(text.split())
    # Frames supply their own quotation marks; outer ones from the source would double up.
    return text.strip("\"'“”‘’ ")


def _fill(template: str, quote: str) -> str:
    """Put `quote` into the frame (str.replace, never format(): quotes are hostile text)."""
    before, after = template.split(QUOTE)
    closing, rest = after[:1], after[1:]
    ends = quote[-1:] in ".!?"
    if not closing:
        return before + quote
    if closing in "\"'" and rest.startswith(".") and ends:
        rest = rest[1:]  # 'government.".' -> 'government."'
    elif closing in "\"'" and rest[:1] == " " and rest[1:2].isupper() and not ends:
        quote += "."  # a new sentence follows the quote: end the quoted one
    return before + quote + closing + rest


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


def _rng(seed: int, *parts: str) -> random.Random:
    # Seeded per row, so a row's contrast does not change when other rows are added.
    digest = hashlib.sha256("\x1f".join((str(seed), *parts)).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def make_contrasts(
    rows: list[dict], seed: int, per_row: int = 1, frames: list[dict] | None = None
) -> list[dict]:
    """Return benign contrasts: each violating row's text quoted inside `per_row` frames.

    `rows` need `text` and `pair` or `id`. Rows labelled 0 on every flagging label, and texts
    over 60 words (too long to quote sensibly), give nothing. Deterministic for a seed.

    >>> out = make_contrasts([{"text": "Join the State.", "id": "x:1"}], seed=0)
    >>> out[0]["extremism"], out[0]["pair"], "Join the State." in out[0]["text"]
    (0, 'x:1', True)
    """
    frames = load_frames() if frames is None else frames
    out: list[dict] = []
    for index, row in enumerate(rows):
        if "text" not in row or not isinstance(row["text"], str):
            raise ValueError(f"rows[{index}]:text: missing or not a string")
        pair = row.get("pair") or row.get("id")
        if not pair:
            raise ValueError(f"rows[{index}]:pair: a row needs `pair` or `id`")
        if not _is_violating(row):
            continue
        quote = _clean_quote(row["text"])
        if not quote or len(quote.split()) > MAX_QUOTE_WORDS:
            continue
        rng = _rng(seed, str(pair), quote)
        for frame in rng.sample(frames, k=min(per_row, len(frames))):
            style = row.get("style")
            out.append({
                "text": _fill(frame["text"], quote),
                "extremism": 0,
                "violence": 0,
                "hate": 0,
                # A quoted slur or insult may still be offensive; the frame cannot say.
                "offensive": None,
                "kind": frame["kind"],
                "context": frame["context"],
                "ideology": row.get("ideology") or "unknown",
                "target": row.get("target"),
                "style": style if style in STYLES else "plain",
                "pair": str(pair),
                # Stable: the same source row and frame always give the same id.
                "id": f"{pair}:contrast:{frame['id']}:{_digest(quote)}",
            })
    return out


DEFAULT_FILLERS = REPO_ROOT / "data" / "synthetic" / "fillers.yaml"


def load_fillers(path: str | Path = DEFAULT_FILLERS) -> list[str]:
    """The neutral filler sentences for `make_embedded`; errors name the file."""
    path = Path(path)
    fillers = _load_yaml_list(path, "fillers")
    if not all(isinstance(f, str) and f.strip() for f in fillers):
        raise ValueError(f"{path}: 'fillers' must be a list of non-empty strings")
    return fillers


def make_embedded(
    rows: list[dict], seed: int, share: float = 0.5, fillers: list[str] | None = None
) -> list[dict]:
    """Return rows placed among 1-3 unrelated neutral sentences, violating and benign alike.

    The counterweight to `make_contrasts`: a frame that quotes a violation in order to report
    or rebut it is benign, but unrelated chatter around a violation is not, and a model trained
    on contrasts alone learns to let any surrounding text dilute a violation. Each violating
    row is embedded with probability `share`; labels, kind, style and pair are kept.

    Benign rows are embedded too, as many in expectation as violating ones (each with
    probability `share * violating / benign`, at most 1), so the filler sentences themselves
    carry no label. Embedding violations alone made them a violation cue: everyday chatter
    ("Long day, the bus broke down...") was flagged at 0.97 by the model trained so.
    Deterministic for a seed.
    """
    fillers = load_fillers() if fillers is None else fillers
    violating = []
    for index, row in enumerate(rows):
        pair = row.get("pair") or row.get("id")
        if "text" not in row or not pair:
            raise ValueError(f"rows[{index}]: a row needs `text` and `pair` or `id`")
        violating.append(any(row.get(name) == 1 for name in FLAGGING_LABELS))
    n_bad = sum(violating)
    n_ok = len(rows) - n_bad
    benign_share = min(1.0, share * n_bad / n_ok) if n_ok else 0.0
    out: list[dict] = []
    for row, bad in zip(rows, violating, strict=True):
        pair = row.get("pair") or row.get("id")
        text = " ".join(row["text"].split())
        rng = _rng(seed, str(pair), text, "embedded")
        if rng.random() >= (share if bad else benign_share):
            continue
        around = rng.sample(fillers, k=rng.randint(1, 3))
        cut = rng.randint(0, len(around))
        embedded = " ".join([*around[:cut], text, *around[cut:]])
        out.append({
            **{k: row.get(k) for k in ("extremism", "violence", "hate", "offensive")},
            "kind": row.get("kind"),
            "context": row.get("context") or "synthetic",
            "ideology": row.get("ideology") or "unknown",
            "target": row.get("target"),
            "style": row.get("style") if row.get("style") in STYLES else "plain",
            "pair": str(pair),
            "text": embedded,
            "id": f"{pair}:embedded:{_digest(text)}",
        })
    return out


# Look-alike substitutions for `obfuscate`: leetspeak digits and Cyrillic homoglyphs.
_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
_HOMOGLYPH = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "i": "і"}
OBFUSCATIONS: tuple[str, ...] = ("leet", "spacing", "dots", "homoglyph", "emoji")
# Word stems a keyword filter would watch for; `obfuscate` disguises these first.
_CHARGED: tuple[str, ...] = (
    "kill", "bomb", "attack", "state", "brother", "join", "fight", "shoot", "blood", "dead",
    "jihad", "caliph", "khilaf", "martyr", "shaheed", "isis", "isk", "taliban", "ttp", "shabaab",
    "shia", "rafid", "kafir", "kuffar", "hijrah", "mujahid", "crusader", "apostate", "murtad",
    "dawla", "gun", "explos", "target", "massacre", "slaughter", "hero", "legend", "burn",
    "khorasan", "khurasan", "jew", "christian", "hazara", "yazidi", "sikh", "sufi", "army",
)
_EMOJI = {"bomb": "💣", "gun": "🔫", "fire": "🔥", "kill": "🔪", "blood": "🩸", "dead": "💀"}


def obfuscate(text: str, method: str, seed: int = 0) -> str:
    """Spell-obfuscate the longer words of `text` the way evaders do; deterministic.

    >>> obfuscate("join the state", "spacing")
    'j o i n the s t a t e'
    """
    if method not in OBFUSCATIONS:
        raise ValueError(f"unknown obfuscation {method!r}; expected one of {OBFUSCATIONS}")
    rng = _rng(seed, method, text)
    words = text.split(" ")
    # Evaders disguise the few words a filter would catch, not every word: up to three
    # charged words, else up to two of the longer ones (short words stay readable).
    cores = [w.strip(".,!?;:'\"").lower() for w in words]
    charged = [i for i, c in enumerate(cores) if len(c) >= 3 and c.startswith(_CHARGED)]
    longer = [i for i, c in enumerate(cores) if len(c) >= 4]
    pool, k = (charged, 3) if charged else (longer, 2)
    chosen = set(rng.sample(pool, k=min(k, len(pool))))
    out = []
    for i, word in enumerate(words):
        core = word.strip(".,!?;:'\"")
        if i not in chosen:
            out.append(word)
            continue
        if method == "leet":
            new = "".join(_LEET.get(ch.lower(), ch) for ch in core)
        elif method == "spacing":
            new = " ".join(core)
        elif method == "dots":
            new = ".".join(core)
        elif method == "homoglyph":
            new = "".join(_HOMOGLYPH.get(ch, ch) for ch in core)
        else:
            key = next((k for k in _EMOJI if k in core.lower()), None)
            new = core.lower().replace(key, _EMOJI[key]) if key else core
        out.append(word.replace(core, new, 1))
    return " ".join(out)
