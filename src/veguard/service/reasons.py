"""Reason codes and the decision rule: what a reviewer's decision must say to be accepted.

`REASON_CODES` is the one place the codes are spelled in code; POLICY.md ("Reason codes")
is where a reviewer reads what each means, and a test checks the two lists agree. A
`violating` decision takes a violating code, a `benign` one a `NOT-` code; `escalate` takes
none (the senior reviewer gives the reason).

`check_decision` refuses decisions the export could not turn into consistent labels, naming
the field: a benign decision that sets a category true, a violating decision that leaves no
flagging category true.

What it leaves out: storing decisions (store.py / sqlstore.py) and the statement of reasons
built from them (export.py).
"""

from __future__ import annotations

from veguard.taxonomy import CATEGORIES, FLAGGING

DECISIONS: tuple[str, ...] = ("violating", "benign", "escalate")

# code -> (decision it supports, one-line meaning). Keep in step with POLICY.md.
REASON_CODES: dict[str, tuple[str, str]] = {
    "EXT-SUPPORT": ("violating",
                    "supports or praises a violent extremist organisation or movement"),
    "EXT-RECRUIT": ("violating", "recruits for, or directs people to, a violent extremist group"),
    "EXT-GLORIFY": ("violating", "glorifies a terrorist attack or attacker"),
    "VIO-THREAT": ("violating", "threatens violence against a person or group"),
    "VIO-INCITE": ("violating", "incites or calls for violence"),
    "HATE-DEHUM": ("violating", "dehumanises people for a protected characteristic"),
    "HATE-SLUR": ("violating", "attacks people for a protected characteristic with slurs"),
    "NOT-NEWS": ("benign", "news reporting or documentation of extremism or violence"),
    "NOT-COUNTERSPEECH": ("benign", "counter-speech: condemns, rebuts or mocks the harmful view"),
    "NOT-OTHER": ("benign",
                  "no violation under POLICY.md for another reason (say why in the note)"),
}


def codes_for(decision: str) -> list[str]:
    return [c for c, (d, _) in REASON_CODES.items() if d == decision]


def check_decision(decision: str, corrections: dict[str, bool] | None,
                   predicted: dict[str, bool], reason_code: str | None = None) -> None:
    """Raise ValueError (message starts with the field) for a decision that cannot be recorded."""
    if decision not in DECISIONS:
        raise ValueError(f"decision: expected one of {', '.join(DECISIONS)}, got {decision!r}")
    corrections = corrections or {}
    for c in corrections:
        if c not in CATEGORIES:
            raise ValueError(f"categories.{c}: unknown category; expected {', '.join(CATEGORIES)}")
    if decision == "benign":
        on = [c for c in CATEGORIES if corrections.get(c)]
        if on:
            raise ValueError(f"categories.{on[0]}: a 'benign' decision cannot set a category "
                             "true (decide 'violating', or leave the category unset)")
    if decision == "violating":
        merged = {**predicted, **corrections}
        if not any(merged.get(c) for c in FLAGGING):
            predicted_on = [c for c in FLAGGING if predicted.get(c)]
            if predicted_on:
                why = (f"your corrections turn off every predicted one "
                       f"({', '.join(predicted_on)})")
            else:
                why = "the prediction named none, so set one true in categories"
            raise ValueError(f"categories: a 'violating' decision needs at least one of "
                             f"{', '.join(FLAGGING)} true; {why}")
    if decision == "escalate":
        if reason_code is not None and reason_code not in REASON_CODES:
            raise ValueError(f"reason_code: unknown code {reason_code!r}")
        return
    allowed = codes_for(decision)
    if reason_code is None:
        raise ValueError(f"reason_code: required for a {decision!r} decision; one of "
                         f"{', '.join(allowed)}")
    if reason_code not in allowed:
        raise ValueError(f"reason_code: {reason_code!r} is not a {decision!r} reason; expected "
                         f"one of {', '.join(allowed)}")
