"""Response bodies for bank matches, shared by /v1/match and the scoring endpoints' `matches`.

Kept apart from schemas.py (the queue's and scoring's bodies) so that the banks' contract has
one home; veguard.banks.matcher produces these dicts. What it leaves out: requests (they live
with their routes in routes/banks.py).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from veguard.taxonomy import BEHAVIOURS, ENTITIES


class MatchLabels(BaseModel):
    entity: str | None = Field(description=f"Producing entity: one of {', '.join(ENTITIES)}.")
    behaviour: str | None = Field(description=f"Behaviour: one of {', '.join(BEHAVIOURS)}.")


class MatchSpan(BaseModel):
    start: int = Field(description="Start offset (characters) of the matched passage in the "
                                   "input text.")
    end: int = Field(description="End offset (exclusive) of the matched passage.")
    text: str = Field(description="The matched passage of the input (render it escaped).")


class MatchOut(BaseModel):
    bank: str = Field(description="The bank's name.")
    kind: str = Field(description="'violating' or 'benign'.")
    entry_id: int = Field(description="The matched entry.")
    exact: bool = Field(description="True when the normalised text's SHA-256 matched.")
    similarity: float = Field(description="Estimated Jaccard similarity (1.0 when exact).")
    labels: MatchLabels = Field(description="The entry's labels.")
    span: MatchSpan = Field(description="Which passage of the input matched.")
    quarantined: bool = Field(description="True when the entry is quarantined: shown, but it "
                                          "does not change the action.")
