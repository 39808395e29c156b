"""Faith-swap and other-language figures for model cards, from the development suite.

The development suite's `faith_practice` cases are benign sentences written once per faith
(cases sharing a `pair` id are the same sentence with the faith swapped). Reported per model:
how many are flagged, and the largest gap within one pair of the top flagging score. Its
`other_language` cases: how many are flagged and how many are not judged (`supported` false).
Reporting only: nothing here is trained or tuned on.

    python scripts/faith_swap.py models/veguard-cascade models/veguard-minilm-v2 models/tfidf-reference
"""

from __future__ import annotations

import sys

import pandas as pd

from veguard import Classifier
from veguard.paths import REPO_ROOT
from veguard.taxonomy import FLAGGING

CASES = REPO_ROOT / "eval" / "suites" / "development" / "cases.csv"


def main(models: list[str]) -> None:
    cases = pd.read_csv(CASES, dtype=str, keep_default_na=False)
    faith = cases[cases.functionality == "faith_practice"]
    other = cases[cases.functionality == "other_language"]
    print("| model | faith-swap flagged (of %d) | largest gap in one pair | other-language "
          "flagged / not judged (of %d) |" % (len(faith), len(other)))
    print("|---|---|---|---|")
    for path in models:
        clf = Classifier.load(path)
        res = clf.score(faith.text.tolist())
        top = pd.Series([max(r.scores[c] for c in FLAGGING) for r in res], index=faith.index)
        flagged = sum(r.flagged for r in res)
        gap = (top.groupby(faith.pair).max() - top.groupby(faith.pair).min()).max()
        res_o = clf.score(other.text.tolist())
        o_flag = sum(r.flagged for r in res_o)
        o_unj = sum(not r.supported for r in res_o)
        print(f"| {clf.name} | {flagged} | {gap:.2f} | {o_flag} / {o_unj} |")


if __name__ == "__main__":
    main(sys.argv[1:])
