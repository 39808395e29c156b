"""Policy-grounded synthetic examples: read and validate `data/synthetic/*.jsonl`.

The examples are hand-written by the veguard team against POLICY.md (violating posts and
their matching benign contrasts, sharing a `pair` id). This module only reads them and
refuses bad rows with an error naming `file:line:field`; it does not normalise text, assign
splits or decide sampling weights (the corpus builder does that), and it never reads the
evaluation suites.

>>> rows = load_synthetic()                               # doctest: +SKIP
>>> sorted(rows[0])                                       # doctest: +SKIP
['context', 'extremism', 'file', 'hate', 'id', 'ideology', 'kind', 'offensive', 'pair', ...]
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from veguard.paths import REPO_ROOT
from veguard.taxonomy import CATEGORIES, CONTEXTS, FLAGGING

# Kinds whose rows must be positive on at least one flagging label.
VIOLATING_KINDS: tuple[str, ...] = (
    "support",
    "glorification",
    "recruitment",
    "incitement",
    "threat",
    "propaganda",
    "dehumanisation",
)
# Kinds whose rows must be 0 on extremism, violence and hate (offensive may be 1).
BENIGN_KINDS: tuple[str, ...] = (
    "reporting",
    "condemnation",
    "counter_speech",
    "analysis",
    "scripture",
    "victim_support",
    "negation",
    "neutral_mention",
    "hyperbole",
    "gaming",
    "offensive_only",
    "court_report",  # security-force operations, arrests, trials
    "deradicalisation",  # exit work, former members speaking
    "fiction",  # plot summaries, film and book talk
    # Stance contrasts for the hate side (Model v2): the topic is a group, the stance is not hate.
    "positive",  # positive statements about a group
    "pro_diversity",  # pro-diversity, rights and policy argument
    "criticism",  # criticism of an ideology, a state or an institution (not of its people)
    "reclaimed",  # in-group and reclaimed usage
    "profanity",  # profanity aimed at nobody
    "object_abuse",  # abuse of objects, teams, weather, non-protected groups
    "greeting",  # religious greetings, festivals and everyday faith
    "foreign_language",  # ordinary posts in languages and scripts other than English
)
KINDS: tuple[str, ...] = VIOLATING_KINDS + BENIGN_KINDS
STYLES: tuple[str, ...] = ("plain", "jargon", "slang", "obfuscated", "formal")
FLAGGING_LABELS: tuple[str, ...] = FLAGGING  # the taxonomy names them

DEFAULT_ROOT = REPO_ROOT / "data" / "synthetic"

_REQUIRED: tuple[str, ...] = (
    "text", *CATEGORIES, "kind", "context", "ideology", "target", "style", "pair",
)


def _fail(where: str, field: str, why: str) -> ValueError:
    return ValueError(f"{where}:{field}: {why}")


def validate_row(row: object, where: str) -> dict:
    """Check one parsed row against the synthetic schema; return a clean copy.

    `where` is `file:line`, put at the front of every error so the bad row is easy to find.
    """
    if not isinstance(row, dict):
        raise _fail(where, "<row>", f"expected a JSON object, got {type(row).__name__}")
    for field in _REQUIRED:
        if field not in row:
            raise _fail(where, field, "missing required field")
    unknown = sorted(set(row) - set(_REQUIRED))
    if unknown:
        raise _fail(where, unknown[0], "unknown field (allowed: " + ", ".join(_REQUIRED) + ")")

    text = row["text"]
    if not isinstance(text, str) or not text.strip():
        raise _fail(where, "text", "must be a non-empty string")
    for label in FLAGGING_LABELS:
        # bool is an int subclass; `true` in JSON is a schema mistake, not a label.
        if type(row[label]) is not int or row[label] not in (0, 1):
            raise _fail(where, label, f"must be 0 or 1, got {row[label]!r}")
    off = row["offensive"]
    if off is not None and (type(off) is not int or off not in (0, 1)):
        raise _fail(where, "offensive", f"must be 0, 1 or null, got {off!r}")
    for field, allowed in (("kind", KINDS), ("context", CONTEXTS), ("style", STYLES)):
        if row[field] not in allowed:
            raise _fail(where, field, f"unknown value {row[field]!r}; expected one of "
                        + ", ".join(allowed))
    if not isinstance(row["ideology"], str) or not row["ideology"].strip():
        raise _fail(where, "ideology", "must be a non-empty string")
    if row["target"] is not None and (not isinstance(row["target"], str) or not row["target"]):
        raise _fail(where, "target", "must be a non-empty string or null")
    if not isinstance(row["pair"], str) or not row["pair"].strip():
        raise _fail(where, "pair", "must be a non-empty string")

    # The kind and the labels must agree, or a contrast silently becomes a positive.
    flagged = any(row[label] == 1 for label in FLAGGING_LABELS)
    if row["kind"] in VIOLATING_KINDS and not flagged:
        raise _fail(where, "kind", f"violating kind {row['kind']!r} needs extremism, violence "
                    "or hate = 1")
    if row["kind"] in BENIGN_KINDS and flagged:
        raise _fail(where, "kind", f"benign kind {row['kind']!r} must be 0 on extremism, "
                    "violence and hate")
    return {field: row[field] for field in _REQUIRED}


def row_id(file_stem: str, text: str) -> str:
    """A stable id from the file and the text, so reordering a file keeps ids (and splits)."""
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    return f"{file_stem}:{digest}"


def load_synthetic(root: str | Path = DEFAULT_ROOT) -> list[dict]:
    """Read and validate every `*.jsonl` under `root` (sorted by name, then line order).

    Each returned dict has the schema fields plus `id` (`<file stem>:<text hash>`) and
    `file` (the file name). Blank lines are skipped. Raises ValueError naming
    `file:line:field` on the first bad row, and on a text repeated within or across files.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: synthetic data folder not found")
    rows: list[dict] = []
    seen: dict[str, str] = {}
    for path in sorted(root.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{path.name}:{lineno}"
                try:
                    parsed = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise _fail(where, "<json>", f"invalid JSON: {exc.msg}") from None
                row = validate_row(parsed, where)
                key = " ".join(row["text"].lower().split())
                if key in seen:
                    raise _fail(where, "text", f"duplicate of {seen[key]}")
                seen[key] = where
                row["id"] = row_id(path.stem, row["text"])
                row["file"] = path.name
                rows.append(row)
    return rows


def count_table(rows: list[dict]) -> dict[tuple[str, int], int]:
    """Counts per (kind, extremism-or-violence-or-hate label), for the README and the tests."""
    table: dict[tuple[str, int], int] = {}
    for row in rows:
        label = int(any(row[name] == 1 for name in FLAGGING_LABELS))
        table[(row["kind"], label)] = table.get((row["kind"], label), 0) + 1
    return table


def format_counts(rows: list[dict]) -> str:
    """A Markdown table of rows per kind and label, one column per file prefix."""
    prefixes = sorted({row["file"].split("_")[0] for row in rows})
    lines = ["| kind | label | " + " | ".join(prefixes) + " | total |",
             "|---|---|" + "---|" * (len(prefixes) + 1)]
    by_prefix = {p: count_table([r for r in rows if r["file"].split("_")[0] == p])
                 for p in prefixes}
    total = count_table(rows)
    for kind, label in sorted(total, key=lambda k: (-k[1], k[0])):
        cells = [str(by_prefix[p].get((kind, label), 0)) for p in prefixes]
        lines.append(f"| {kind} | {label} | " + " | ".join(cells) + f" | {total[(kind, label)]} |")
    positives = sum(n for (_, label), n in total.items() if label)
    lines.append(
        f"\n{len(rows)} rows, {positives} violating ({positives / max(len(rows), 1):.1%})."
    )
    return "\n".join(lines)


if __name__ == "__main__":  # python -m veguard.data.synthetic [root]: print the counts table
    import sys

    print(format_counts(load_synthetic(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_ROOT)))
