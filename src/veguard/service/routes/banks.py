"""Banks of known content over HTTP, and the hook that adds `matches` to scoring results.

    POST /v1/match                          client: match texts against every bank
    GET  /v1/banks                          admin: banks and their entry counts
    POST /v1/banks/{name}/entries           admin: add entries (texts, or hashes + signatures)
    POST /v1/banks/entries/{id}/status      admin: quarantine or re-activate an entry
    POST /v1/banks/{name}/proposals         reviewer: propose a queue item decided violating
    GET  /v1/banks/{name}/proposals         admin: pending proposals
    POST /v1/banks/proposals/{id}/approve   admin: approve (the entry is added) / .../reject

The banks are `app.state.banks` (a `veguard.banks.matcher.Matcher`, or None when the server
runs without banks: then these routes answer 404 and results carry no `matches`).
`attach_matches` is what /v1/moderations and /v1/classify call: it matches each text, moves
the action as the banks say (`veguard.banks.matcher.apply`) and returns the matches.

What it leaves out: bank creation and import/export (the `veguard bank` CLI, run by an
operator on the database).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from veguard.banks.store import BankError, NewEntry
from veguard.result import ScoreResult
from veguard.service.auth import Principal, require
from veguard.service.bank_schemas import MatchOut
from veguard.service.schemas import MAX_INPUTS, ErrorResponse, Strict, Text, _short
from veguard.taxonomy import BEHAVIOURS, ENTITIES

router = APIRouter(tags=["banks"])
ERRORS = {c: {"model": ErrorResponse} for c in (401, 403, 404, 409, 422)}
Client = Annotated[Principal, Depends(require("score"))]
Reviewer = Annotated[Principal, Depends(require("review"))]
Admin = Annotated[Principal, Depends(require("admin"))]
MAX_ENTRIES = 1000
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
BankName = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]


class MatchRequest(Strict):
    input: Text | Annotated[list[Text], Field(min_length=1, max_length=MAX_INPUTS)] = Field(
        description=f"One text or a list of 1 to {MAX_INPUTS} texts.")


class MatchResult(BaseModel):
    matches: list[MatchOut] = Field(description="Matches, exact first, then by similarity.")


class MatchResponse(BaseModel):
    results: list[MatchResult] = Field(description="One per input text, in order.")


class EntryIn(Strict):
    text: Text | None = Field(default=None, description="The text (hashed here). Or give "
                                                        "sha256 (+ signature) instead.")
    sha256: _short(64) | None = Field(default=None, description="exact_hash of the text.")
    signature: _short(400_000) | None = Field(
        default=None, description="base64 passage signatures (docs/BANKS.md).")
    entity: Literal[ENTITIES] | None = Field(  # type: ignore[valid-type]
        default=None, description=f"Producing entity: one of {', '.join(ENTITIES)}.")
    behaviour: Literal[BEHAVIOURS] | None = Field(  # type: ignore[valid-type]
        default=None, description=f"Behaviour (GIFCT category): one of {', '.join(BEHAVIOURS)}.")
    source: _short(200) | None = Field(default=None, description="Where the entry comes from.")
    note: _short(2000) | None = Field(default=None, description="Free-text note.")


class EntriesRequest(Strict):
    entries: list[EntryIn] = Field(min_length=1, max_length=MAX_ENTRIES,
                                   description=f"1 to {MAX_ENTRIES} entries.")


class EntriesResponse(BaseModel):
    bank: str = Field(description="The bank's name.")
    entry_ids: list[int] = Field(description="One id per entry, in order.")
    created: list[bool] = Field(description="False where the bank already held the hash.")


class StatusRequest(Strict):
    status: Literal["active", "quarantined"] = Field(
        description="'quarantined' stops the entry acting; 'active' restores it.")


class ProposalRequest(Strict):
    queue_id: Annotated[int, Field(ge=1, le=2**31 - 1)] = Field(
        description="A queue item decided 'violating'.")
    entity: Literal[ENTITIES] | None = Field(  # type: ignore[valid-type]
        default=None, description=f"Producing entity: one of {', '.join(ENTITIES)}.")
    behaviour: Literal[BEHAVIOURS] | None = Field(  # type: ignore[valid-type]
        default=None, description=f"Behaviour (GIFCT category): one of {', '.join(BEHAVIOURS)}.")
    note: _short(2000) | None = Field(default=None, description="Free-text note.")


def banks_of(request: Request):
    m = request.app.state.banks
    if m is None:
        raise HTTPException(404, "this server runs without banks (start it with --banks)")
    return m


def _fail(e: BankError):
    raise HTTPException(e.status, str(e)) from None


async def attach_matches(request: Request, texts: list[str],
                         results: list[ScoreResult]) -> tuple[list[ScoreResult], list | None]:
    """(results with bank-adjusted actions, matches per text), or (results, None) without
    banks."""
    from veguard.banks.matcher import apply

    m = request.app.state.banks
    if m is None:
        return results, None
    matches = await run_in_threadpool(m.match_many, texts)
    banks = m.bank_map()
    return [apply(r, ms, banks) for r, ms in zip(results, matches, strict=True)], matches


def known_violating(matches: list | None) -> bool:
    """True when a live (not quarantined) entry of a violating bank matched: known content,
    which the queue puts ahead of unmatched items (`store.KNOWN_CONTENT_BOOST`)."""
    return any(m["kind"] == "violating" and not m["quarantined"] for m in matches or [])


def enqueue_wanted(result: ScoreResult, matches: list | None, wanted: bool) -> bool:
    """/v1/classify's enqueue decision, given the banks: a live violating match is always
    enqueued; a benign match that lowered the action to none is not."""
    if matches is None:
        return wanted
    if known_violating(matches):
        return True
    live = [m for m in matches if not m["quarantined"]]
    if result.action == "none" and any(m["kind"] == "benign" for m in live):
        return False
    return wanted


@router.post("/v1/match", response_model=MatchResponse, responses=ERRORS,
             summary="Match texts against the banks of known content (no model involved)")
async def match(body: MatchRequest, request: Request, who: Client) -> MatchResponse:
    m = banks_of(request)
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    found = await run_in_threadpool(m.match_many, texts)
    return MatchResponse(results=[MatchResult(matches=f) for f in found])


@router.get("/v1/banks", responses=ERRORS, summary="Banks and their entry counts (admin)")
def list_banks(request: Request, who: Admin) -> list[dict]:
    m = banks_of(request)
    return [{"bank": b.name, "kind": b.kind, "action": b.action, "threshold": b.threshold,
             "store_text": b.store_text, "entries": n} for b, n in m.store.list_banks()]


@router.post("/v1/banks/{name}/entries", response_model=EntriesResponse, status_code=201,
             responses=ERRORS, summary="Add entries to a bank (admin)")
def add_entries(name: BankName, body: EntriesRequest, request: Request,
                who: Admin) -> EntriesResponse:
    from veguard.banks.interchange import entry_from_dict

    m = banks_of(request)
    try:
        bank = m.store.get_bank(name)
        new: list[NewEntry] = []
        for i, e in enumerate(body.entries):
            d = e.model_dump(exclude_none=True)
            if not d.get("text") and not d.get("sha256"):
                raise BankError(f"entries.{i}: give text or sha256")
            new.append(entry_from_dict(d, f"entries.{i}"))
        res = m.store.add_entries(name, new, who.name)
    except BankError as e:
        _fail(e)
    m.add(bank, [i for i, _ in res], new)
    return EntriesResponse(bank=name, entry_ids=[i for i, _ in res], created=[c for _, c in res])


@router.post("/v1/banks/entries/{entry_id}/status", responses=ERRORS,
             summary="Quarantine an entry or re-activate it (admin)")
def set_status(entry_id: Id, body: StatusRequest, request: Request, who: Admin) -> dict:
    m = banks_of(request)
    try:
        m.store.set_status(entry_id, body.status, who.name, {"via": "api"})
    except BankError as e:
        _fail(e)
    m.set_quarantined(entry_id, body.status == "quarantined")
    return {"entry_id": entry_id, "status": body.status}


@router.post("/v1/banks/{name}/proposals", status_code=201, responses=ERRORS,
             summary="Propose a queue item decided 'violating' for a bank (reviewer)")
def propose(name: BankName, body: ProposalRequest, request: Request, who: Reviewer) -> dict:
    from veguard.banks.interchange import entry_to_dict

    m = banks_of(request)
    item = request.app.state.store.get(body.queue_id)
    if item is None:
        raise HTTPException(404, f"queue item {body.queue_id} does not exist")
    if item.decision != "violating":
        raise HTTPException(409, f"queue item {body.queue_id} is not decided 'violating'")
    try:
        bank = m.store.get_bank(name)
        if bank.kind != "violating":
            raise BankError(f"bank {name!r} is {bank.kind}: only violating banks take proposals")
        entry = NewEntry.from_text(item.text, entity=body.entity, behaviour=body.behaviour,
                                   source=f"review_queue:{item.item_id}", note=body.note)
        if not bank.store_text:
            entry.text = None
        pid = m.store.propose(name, entry_to_dict(entry), who.name, body.queue_id)
    except BankError as e:
        _fail(e)
    return {"proposal_id": pid, "bank": name, "status": "pending"}


@router.get("/v1/banks/{name}/proposals", responses=ERRORS,
            summary="Pending proposals for a bank (admin)")
def proposals(name: BankName, request: Request, who: Admin) -> list[dict]:
    m = banks_of(request)
    try:
        rows = m.store.pending_proposals(name)
    except BankError as e:
        _fail(e)
    return [{"proposal_id": r["id"], "queue_id": r["queue_id"], "proposed_by": r["proposed_by"],
             "proposed_at": r["proposed_at"], "sha256": r["entry"].get("sha256"),
             "labels": {"entity": r["entry"].get("entity"),
                        "behaviour": r["entry"].get("behaviour")}} for r in rows]


@router.post("/v1/banks/proposals/{proposal_id}/{verdict}", responses=ERRORS,
             summary="Approve (add the entry) or reject a proposal (admin)")
def decide(proposal_id: Id, verdict: Literal["approve", "reject"], request: Request,
           who: Admin) -> dict:
    from veguard.banks.interchange import entry_from_dict

    m = banks_of(request)
    try:
        p = m.store.decide_proposal(proposal_id, verdict == "approve", who.name)
        if verdict == "reject":
            return {"proposal_id": proposal_id, "status": "rejected"}
        entry = entry_from_dict(p["entry"], f"proposal {proposal_id}")
        bank = m.store.get_bank(p["bank_name"])
        ((entry_id, created),) = m.store.add_entries(bank.name, [entry], who.name,
                                                     how="approved")
    except BankError as e:
        _fail(e)
    m.add(bank, [entry_id], [entry])
    return {"proposal_id": proposal_id, "status": "approved", "entry_id": entry_id,
            "created": created}
