"""The reviewers' JSON API on the queue: list and search, read (with the statement of reasons),
claim (next, escalated, or a given item), release, decide, undo, bulk decide, QA re-review,
stats; and appeals, which clients file. Reviewing needs a `reviewer`, `senior` or `admin` key
(the key's name is the reviewer's identity); the escalation queue needs `senior` or `admin`.
"""

from __future__ import annotations

import random
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from veguard.service.auth import Principal, authorize, require
from veguard.service.schemas import (
    LANGUAGE_PATTERN,
    NO_NUL,
    AppealRequest,
    AuditOut,
    BulkDecisionRequest,
    BulkResponse,
    BulkResult,
    ClaimRequest,
    DecisionOut,
    DecisionRequest,
    ErrorResponse,
    QueueId,
    QueueItemDetail,
    QueueItemOut,
    QueueList,
)
from veguard.service.stats import queue_stats
from veguard.service.store import LANES, STATUSES, QueueError
from veguard.taxonomy import CATEGORIES

router = APIRouter(prefix="/v1/queue", tags=["queue"])
ERRORS = {c: {"model": ErrorResponse} for c in (401, 403, 404, 409, 422)}
Reviewer = Annotated[Principal, Depends(require("review"))]


def _out(request: Request, item, blind: bool = False) -> QueueItemOut:
    return QueueItemOut.of(item, request.app.state.store.clock(), blind=blind)


def in_qa(item, who: Principal) -> bool:
    """True while `who` holds the item's QA re-review: every view of it must then be blind."""
    return item.qa_status == "claimed" and item.qa_claimed_by == who.name


def qa_sample(request: Request) -> bool:
    """Whether this decision goes to blind QA re-review (a `qa_share` of them)."""
    share = request.app.state.settings.qa_share
    return share > 0 and random.random() < share


def record_decision(request: Request, who: Principal, queue_id: int, body: DecisionRequest):
    """The one path every decision takes (API, bulk, reviewer page): 422 for a bad one."""
    try:
        return request.app.state.store.decide(queue_id, who.name, body.decision, body.categories,
                                              body.note, body.reason_code, qa=qa_sample(request))
    except ValueError as e:
        raise HTTPException(422, str(e)) from None


@router.get("/items", response_model=QueueList, responses=ERRORS,
            summary="List or search queue items, highest priority first")
def list_items(request: Request, who: Reviewer,
               status: Annotated[Literal[STATUSES] | None, Query(  # type: ignore[valid-type]
                   description=", ".join(STATUSES))] = None,
               category: Annotated[Literal[CATEGORIES] | None, Query(  # type: ignore[valid-type]
                   description="only items flagged in this category")] = None,
               source: Annotated[str | None, Query(max_length=100, pattern=NO_NUL,
                                                   description="only this source")] = None,
               lane: Annotated[Literal[LANES] | None, Query(  # type: ignore[valid-type]
                   description="review, escalation or appeal")] = None,
               q: Annotated[str | None, Query(
                   max_length=200, pattern=NO_NUL,
                   description="text contains (case-insensitive)")] = None,
               author: Annotated[str | None, Query(max_length=200, pattern=NO_NUL,
                                                   description="exact author")] = None,
               item_id: Annotated[str | None, Query(max_length=200, pattern=NO_NUL,
                                                    description="exact client item id")] = None,
               language: Annotated[str | None, Query(
                   pattern=LANGUAGE_PATTERN,
                   description="only items in this language (ISO 639-1, e.g. ps)")] = None,
               limit: Annotated[int, Query(ge=1, le=500, description="page size")] = 100,
               offset: Annotated[int, Query(ge=0, le=10_000_000, description="page start")] = 0):
    store = request.app.state.store
    items = store.list_items(status=status, category=category, source=source, lane=lane,
                             q=q or None, author=author, item_id=item_id, language=language,
                             limit=limit, offset=offset)
    return QueueList(items=[_out(request, i) for i in items], depth=store.depth())


@router.get("/items/{queue_id}", response_model=QueueItemDetail, responses=ERRORS,
            summary="One queue item with its decisions, statement of reasons and audit trail")
def get_item(queue_id: QueueId, request: Request, who: Reviewer):
    store = request.app.state.store
    item = store.get(queue_id)
    if item is None:
        raise HTTPException(404, f"queue item {queue_id} does not exist")
    if in_qa(item, who):
        return QueueItemDetail(item=_out(request, item, blind=True), decisions=[], audit=[])
    return QueueItemDetail(item=_out(request, item),
                           decisions=[DecisionOut.of(d) for d in store.history(queue_id)],
                           audit=[AuditOut.of(a) for a in store.audit_log(queue_id)])


@router.post("/claim", response_model=QueueItemOut, responses={**ERRORS, 204: {}},
             summary="Claim the highest-priority waiting item (204 when there is none)")
def claim_next(request: Request, who: Reviewer, body: ClaimRequest | None = None):
    body = body or ClaimRequest()
    if body.queue == "escalation" and not who.senior:
        raise HTTPException(403, "queue: only senior reviewers take escalated items")
    s = request.app.state
    item = s.store.claim_next(who.name, s.settings.lease_seconds, category=body.category,
                              source=body.source, language=body.language,
                              escalated=body.queue == "escalation")
    if item is None:
        return Response(status_code=204)
    return _out(request, item)


@router.post("/items/{queue_id}/claim", response_model=QueueItemOut, responses=ERRORS,
             summary="Claim (or renew the lease on) a given item")
def claim(queue_id: QueueId, request: Request, who: Reviewer):
    s = request.app.state
    return _out(request, s.store.claim(queue_id, who.name, s.settings.lease_seconds,
                                       senior=who.senior))


@router.post("/items/{queue_id}/release", response_model=QueueItemOut, responses=ERRORS,
             summary="Give a claimed item back to the queue (lease holder only)")
def release(queue_id: QueueId, request: Request, who: Reviewer):
    return _out(request, request.app.state.store.release(queue_id, who.name))


@router.post("/items/{queue_id}/decision", response_model=QueueItemOut, responses=ERRORS,
             summary="Record the decision (lease holder only; escalate hands it to a senior)")
def decide(queue_id: QueueId, body: DecisionRequest, request: Request, who: Reviewer):
    return _out(request, record_decision(request, who, queue_id, body))


@router.post("/items/{queue_id}/undo", response_model=QueueItemOut, responses=ERRORS,
             summary="Undo your last decision on the item within the undo window")
def undo(queue_id: QueueId, request: Request, who: Reviewer):
    s = request.app.state
    return _out(request, s.store.undo(queue_id, who.name, s.settings.undo_seconds,
                                      s.settings.lease_seconds))


@router.post("/bulk-decision", response_model=BulkResponse, responses=ERRORS,
             summary="Decide many items the same way (each claimed, decided, audited)")
def bulk_decide(body: BulkDecisionRequest, request: Request, who: Reviewer) -> BulkResponse:
    if body.decision == "escalate":
        raise HTTPException(422, "decision: bulk decisions are 'violating' or 'benign'")
    s = request.app.state
    results = []
    for qid in body.queue_ids:
        try:
            s.store.claim(qid, who.name, s.settings.lease_seconds, senior=who.senior)
            record_decision(request, who, qid, body)
            s.store.audit(who.name, "bulk", qid, {"batch": len(body.queue_ids)})
            results.append(BulkResult(queue_id=qid, ok=True, error=None))
        except QueueError as e:
            results.append(BulkResult(queue_id=qid, ok=False, error=str(e)))
        except HTTPException as e:
            s.store.release(qid, who.name)  # claimed above; the decision itself was refused
            results.append(BulkResult(queue_id=qid, ok=False, error=str(e.detail)))
    return BulkResponse(results=results)


@router.post("/items/{queue_id}/appeal", response_model=QueueItemOut, responses=ERRORS,
             summary="Appeal a decision (the client that sent the item, or admin): reopens it "
                     "for a different reviewer")
def appeal(queue_id: QueueId, body: AppealRequest, request: Request):
    who = authorize(request, "score")
    store = request.app.state.store
    item = store.get(queue_id)
    if item is None or (who.role != "admin" and item.client != who.name):
        # Another client's item is reported as absent: ids must not leak across clients.
        raise HTTPException(404, f"queue item {queue_id} does not exist")
    return QueueItemOut.of(store.appeal(queue_id, who.name, body.reason), store.clock())


@router.post("/qa/claim", response_model=QueueItemOut, responses={**ERRORS, 204: {}},
             summary="Claim the next item for blind QA re-review (its decision is hidden)")
def qa_claim(request: Request, who: Reviewer):
    s = request.app.state
    item = s.store.qa_claim_next(who.name, s.settings.lease_seconds)
    if item is None:
        return Response(status_code=204)
    return _out(request, item, blind=True)


@router.post("/items/{queue_id}/qa", response_model=QueueItemOut, responses=ERRORS,
             summary="Record a blind QA re-review (QA lease holder only)")
def qa_decide(queue_id: QueueId, body: DecisionRequest, request: Request, who: Reviewer):
    try:
        item = request.app.state.store.qa_decide(queue_id, who.name, body.decision,
                                                 body.categories, body.reason_code, body.note)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    return _out(request, item, blind=True)


@router.get("/stats", responses=ERRORS,
            summary="Depth and age per category, reviewer throughput, SLA alerts, QA kappa")
def stats(request: Request, who: Reviewer) -> dict:
    return queue_stats(request.app.state.store, request.app.state.settings.sla_seconds)
