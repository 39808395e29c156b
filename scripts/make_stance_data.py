"""Expand the hand-written stance templates into `data/synthetic/stance_*.jsonl`.

The templates live in `data/synthetic/stance/*.yaml` (written by hand for issue #11 item 4,
without reading the evaluation suites): contrast sets about protected groups, criticism of
institutions beside dehumanisation of their people, festival greetings and everyday faith,
profanity and abuse aimed at nobody or at non-protected groups, emoji contrasts, and benign
posts in other languages. This script fills each template with every group (or festival,
institution, object) its set is expanded over and writes one JSONL file per YAML source.

Deterministic: which groups a set gets depends only on the set id and the group ids (a
SHA-1 ranking), never on a random state or file order. Every row is checked with the loader's
own `validate_row`, so a bad template fails here naming its YAML file, set and row.

It deliberately leaves out labels beyond the codes in the YAML header (a human decided each
template's label), augmentation (obfuscation and framing happen in the corpus builder), and
any reading of `eval/suites/`.

    PYTHONPATH=src python scripts/make_stance_data.py            # write the JSONL files
    PYTHONPATH=src python scripts/make_stance_data.py --check    # exit 1 if they are stale
    PYTHONPATH=src python scripts/make_stance_data.py --summary  # Markdown counts for the README
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

from veguard.data.synthetic import FLAGGING_LABELS, validate_row

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = ROOT / "data" / "synthetic"
SOURCE = SYNTHETIC / "stance"

GROUPS_PER_SET = 12  # protected groups per contrast set (of 28)
INSTITUTIONS_PER_SET = 12  # of 16
EMOJI_GROUPS_PER_SET = 6
NONPROTECTED_PER_SET = 8  # non-protected groups or objects per set

# Label codes used in the YAML rows: (hate, violence, offensive).
CODES: dict[str, tuple[int, int, int | None]] = {
    "h": (1, 0, 1),
    "hg": (1, 0, 0),
    "hv": (1, 1, None),
    "b": (0, 0, 0),
    "bo": (0, 0, 1),
    "bn": (0, 0, None),
}
# Context follows the kind where the taxonomy has a matching one; everything else is the
# team's own writing (`synthetic`).
CONTEXT_OF_KIND = {"counter_speech": "counter_speech", "reporting": "news",
                   "court_report": "news", "analysis": "analysis", "greeting": "religious"}
# Targets that appear only in faith.yaml (no entry in groups.yaml).
EXTRA_IDEOLOGY = {"bahais": "anti_bahai", "jains": "anti_jain", "catholics": "anti_christian",
                  "zoroastrians": "anti_zoroastrian", "iranians": "xenophobic"}
OUTPUTS = ("stance_groups.jsonl", "stance_faith.jsonl", "stance_nobody.jsonl",
           "stance_emoji.jsonl", "stance_foreign.jsonl")

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _load(name: str) -> dict:
    path = SOURCE / name
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise TypeError(f"{path}: expected a mapping at the top level")
    return data


def _rank(set_id: str, keys: list[str], k: int) -> list[int]:
    """Indices of the k keys ranked first by sha1(set id, key): stable, spread across sets."""
    order = sorted(range(len(keys)),
                   key=lambda i: hashlib.sha1(f"{set_id}|{keys[i]}".encode()).hexdigest())
    return sorted(order[:k])


def _key(filler: dict) -> str:
    """What identifies a filler within its list (several festivals share a target)."""
    for field in ("fest", "rite", "I", "R", "X", "O", "target"):
        if filler.get(field):
            return str(filler[field])
    raise ValueError(f"filler without an identifying field: {filler!r}")


def _fill(template: str, values: dict[str, str], where: str) -> str:
    def sub(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise ValueError(f"{where}: unknown placeholder {{{name}}}")
        return str(values[name])

    text = _PLACEHOLDER.sub(sub, template)
    # A template that opens with a placeholder ("{G} are ...") still starts with a capital.
    if template.startswith("{") and text:
        text = text[0].upper() + text[1:]
    return text


def _parse_row(row: object, where: str) -> tuple[str, str, str, str, str | None]:
    if not isinstance(row, list) or not 3 <= len(row) <= 5:
        raise ValueError(f"{where}: expected [kind, code, text(, style(, target))], got {row!r}")
    kind, code, text = row[0], row[1], row[2]
    style = row[3] if len(row) > 3 else "plain"
    target = row[4] if len(row) > 4 else None
    if code not in CODES:
        raise ValueError(f"{where}: unknown label code {code!r} (expected one of {sorted(CODES)})")
    return kind, code, text, style, target


def _make(kind: str, code: str, text: str, style: str, *, target: str | None,
          ideology: str, pair: str, where: str) -> dict:
    hate, violence, offensive = CODES[code]
    row = {"text": text, "extremism": 0, "violence": violence, "hate": hate,
           "offensive": offensive, "kind": kind, "context": CONTEXT_OF_KIND.get(kind, "synthetic"),
           "ideology": ideology, "target": target, "style": style, "pair": pair}
    return validate_row(row, where)


def _expand_sets(sets: list[dict], file: str, fillers: list[dict], per_set: int, *,
                 place_only: bool = False) -> list[dict]:
    """Each set x each of its fillers x each row; rows with no placeholder are written once."""
    out = []
    for s in sets:
        set_id = s["id"]
        pool = fillers
        if s.get("groups") == "place" or place_only:
            pool = [f for f in fillers if f.get("place")]
        chosen = [pool[i] for i in _rank(set_id, [_key(f) for f in pool], per_set)]
        for n, raw in enumerate(s["rows"]):
            where = f"{SOURCE.name}/{file}:{set_id}:rows[{n}]"
            kind, code, template, style, target = _parse_row(raw, where)
            if not _PLACEHOLDER.search(template):
                target = target or s.get("target")
                ideology = _ideology_of(target) if target else "none"
                out.append(_make(kind, code, template, style, target=target, ideology=ideology,
                                 pair=f"stance:{set_id}", where=where))
                continue
            for filler in chosen:
                out.append(_make(kind, code, _fill(template, filler, where), style,
                                 target=filler.get("target"),
                                 ideology=filler.get("ideology", "none"),
                                 pair=f"stance:{set_id}", where=where))
    return out


def _ideology_of(target: str) -> str:
    return IDEOLOGY.get(target) or EXTRA_IDEOLOGY.get(target) or f"anti_{target}"


def build() -> dict[str, list[dict]]:
    """{output file name: rows}, in a fixed order."""
    groups_yaml = _load("groups.yaml")
    groups = groups_yaml["groups"]
    IDEOLOGY.clear()
    IDEOLOGY.update({g["target"]: g["ideology"] for g in groups})
    institutions = [dict(i, **{"is": "are" if i["I"].endswith("parties") else "is",
                               "has": "have" if i["I"].endswith("parties") else "has"})
                    for i in groups_yaml["institutions"]]

    sets = _load("sets_groups.yaml")
    group_rows = (_expand_sets(sets["sets"], "sets_groups.yaml", groups, GROUPS_PER_SET)
                  + _expand_sets(sets["criticism_sets"], "sets_groups.yaml", institutions,
                                 INSTITUTIONS_PER_SET)
                  + _expand_sets(sets["religion_sets"], "sets_groups.yaml",
                                 groups_yaml["religions"], len(groups_yaml["religions"])))

    faith = _load("faith.yaml")
    festivals = [dict(f, ideology=_ideology_of(f["target"])) for f in faith["festivals"]]
    practices = [dict(p, ideology=_ideology_of(p["target"])) for p in faith["practices"]]
    faith_rows = (_expand_sets(faith["festival_sets"], "faith.yaml", festivals, len(festivals))
                  + _expand_sets(faith["practice_sets"], "faith.yaml", practices, len(practices)))

    nobody = _load("nobody.yaml")
    fillers = ([{"X": x, "target": None} for x in nobody["non_protected"]]
               + [{"O": o, "target": None} for o in nobody["objects"]])
    nobody_rows = []
    for s in nobody["sets"]:
        # A set's rows use {X} or {O}; give each set only the fillers it can use.
        names = {m for row in s["rows"] for m in _PLACEHOLDER.findall(row[2])}
        usable = [f for f in fillers if names <= set(f)] if names else fillers
        nobody_rows += _expand_sets([s], "nobody.yaml", usable, NONPROTECTED_PER_SET)

    emoji = _load("emoji.yaml")
    emoji_rows = _expand_sets(emoji["sets"], "emoji.yaml", groups, EMOJI_GROUPS_PER_SET)

    foreign = _load("foreign.yaml")
    foreign_rows = []
    for code, lang in foreign["languages"].items():
        for n, text in enumerate(lang["rows"]):
            where = f"{SOURCE.name}/foreign.yaml:{code}:rows[{n}]"
            foreign_rows.append(_make("foreign_language", "b", text, "plain", target=None,
                                      ideology="none", pair=f"stance:foreign-{code}",
                                      where=where))

    out = dict(zip(OUTPUTS, (group_rows, faith_rows, nobody_rows, emoji_rows, foreign_rows),
                   strict=True))
    _check_unique(out)
    return out


IDEOLOGY: dict[str, str] = {}  # target -> ideology, filled from groups.yaml by build()


def _check_unique(out: dict[str, list[dict]]) -> None:
    # The loader refuses a text repeated after lower-casing; fail here first, naming both.
    seen: dict[str, str] = {}
    for name, rows in out.items():
        for i, row in enumerate(rows, start=1):
            key = " ".join(row["text"].lower().split())
            if key in seen:
                raise ValueError(f"{name}:{i}: text repeats {seen[key]}: {row['text']!r}")
            seen[key] = f"{name}:{i}"


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def summary(out: dict[str, list[dict]]) -> str:
    """Markdown tables: rows per file x label, kind x label, and target x label."""
    rows = [r for rs in out.values() for r in rs]

    def flagged(r: dict) -> int:
        return int(any(r[label] == 1 for label in FLAGGING_LABELS))

    lines = ["| file | benign | violating | total |", "|---|---|---|---|"]
    for name, rs in out.items():
        pos = sum(map(flagged, rs))
        lines.append(f"| `{name}` | {len(rs) - pos} | {pos} | {len(rs)} |")
    pos = sum(map(flagged, rows))
    lines += [f"| all | {len(rows) - pos} | {pos} | {len(rows)} |", "",
              "| kind | benign | violating |", "|---|---|---|"]
    kinds = Counter((r["kind"], flagged(r)) for r in rows)
    for kind in sorted({k for k, _ in kinds}):
        lines.append(f"| {kind} | {kinds[(kind, 0)]} | {kinds[(kind, 1)]} |")
    # target x (violating kinds, then the main benign kinds): kind x label x group in one table.
    columns = ["dehumanisation", "incitement", "threat", "positive", "pro_diversity",
               "counter_speech", "negation", "neutral_mention", "greeting", "criticism"]
    lines += ["", "| target | violating | benign | " + " | ".join(columns) + " | other benign |",
              "|---|" + "---|" * (len(columns) + 3)]
    cells = Counter((r["target"] or "(none)", r["kind"]) for r in rows)
    labels = Counter((r["target"] or "(none)", flagged(r)) for r in rows)
    for target in sorted({t for t, _ in labels}):
        named = [cells[(target, k)] for k in columns]
        other = labels[(target, 0)] - sum(n for k, n in zip(columns, named, strict=True)
                                          if k not in ("dehumanisation", "incitement", "threat"))
        lines.append(f"| {target} | {labels[(target, 1)]} | {labels[(target, 0)]} | "
                     + " | ".join(map(str, named)) + f" | {other} |")
    langs = Counter(r["pair"].removeprefix("stance:foreign-") for r in out["stance_foreign.jsonl"])
    lines += ["", "| language | rows |", "|---|---|"]
    lines += [f"| {code} | {n} |" for code, n in langs.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed files instead of writing them")
    parser.add_argument("--summary", action="store_true", help="print Markdown counts")
    args = parser.parse_args(argv)
    out = build()
    if args.summary:
        print(summary(out))
        return 0
    stale = []
    for name, rows in out.items():
        path = SYNTHETIC / name
        text = render(rows)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"{path.relative_to(ROOT)}: {len(rows)} rows")
    if stale:
        print("stale (rerun scripts/make_stance_data.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
