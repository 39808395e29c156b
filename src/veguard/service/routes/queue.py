"""The reviewers' JSON API on the queue: list, read, claim (next or a given item), release,
decide. Needs a `reviewer` (or `admin`) key; the key's name is the reviewer's identity."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from veguard.service.auth import Principal, require
from veguard.service.schemas import (
    NO_NUL,
    AuditOut,
    ClaimRequest,
    DecisionRequest,
    ErrorResponse,
    QueueId,
    QueueItemDetail,
    QueueItemOut,
    QueueList,
)
from veguard.service.store import STATUSES
from veguard.taxonomy import CATEGORIES

router = APIRouter(prefix="/v1/queue", tags=["queue"])
ERRORS = {c: {"model": ErrorResponse} for c in (401, 403, 404, 409, 422)}
Reviewer = Annotated[Principal, Depends(require("review"))]


def _out(request: Request, item) -> QueueItemOut:
    return QueueItemOut.of(item, request.app.state.store.clock())


@router.get("/items", response_model=QueueList, responses=ERRORS,
            summary="List queue items, highest priority first")
def list_items(request: Request, who: Reviewer,
               status: Annotated[Literal[STATUSES] | None, Query(  # type: ignore[valid-type]
                   description="pending, claimed or decided")] = None,
               category: Annotated[Literal[CATEGORIES] | None, Query(  # type: ignore[valid-type]
                   description="only items flagged in this category")] = None,
               source: Annotated[str | None, Query(max_length=100, pattern=NO_NUL,
                                                         description="only this source")] = None,
               limit: Annotated[int, Query(ge=1, le=500, description="page size")] = 100,
               offset: Annotated[int, Query(ge=0, le=10_000_000, description="page start")] = 0):
    store = request.app.state.store
    items = store.list_items(status=status, category=category, source=source, limit=limit,
                             offset=offset)
    return QueueList(items=[_out(request, i) for i in items], depth=store.depth())


@router.get("/items/{queue_id}", response_model=QueueItemDetail, responses=ERRORS,
            summary="One queue item with its audit trail")
def get_item(queue_id: QueueId, request: Request, who: Reviewer):
    store = request.app.state.store
    item = store.get(queue_id)
    if item is None:
        raise HTTPException(404, f"queue item {queue_id} does not exist")
    return QueueItemDetail(item=_out(request, item),
                           audit=[AuditOut.of(a) for a in store.audit_log(queue_id)])


@router.post("/claim", response_model=QueueItemOut, responses={**ERRORS, 204: {}},
             summary="Claim the highest-priority claimable item (204 when the queue is empty)")
def claim_next(request: Request, who: Reviewer, body: ClaimRequest | None = None):
    body = body or ClaimRequest()
    s = request.app.state
    item = s.store.claim_next(who.name, s.settings.lease_seconds, category=body.category,
                              source=body.source)
    if item is None:
        return Response(status_code=204)
    return _out(request, item)


@router.post("/items/{queue_id}/claim", response_model=QueueItemOut, responses=ERRORS,
             summary="Claim (or renew the lease on) a given item")
def claim(queue_id: QueueId, request: Request, who: Reviewer):
    s = request.app.state
    return _out(request, s.store.claim(queue_id, who.name, s.settings.lease_seconds))


@router.post("/items/{queue_id}/release", response_model=QueueItemOut, responses=ERRORS,
             summary="Give a claimed item back to the queue (lease holder only)")
def release(queue_id: QueueId, request: Request, who: Reviewer):
    return _out(request, request.app.state.store.release(queue_id, who.name))


@router.post("/items/{queue_id}/decision", response_model=QueueItemOut, responses=ERRORS,
             summary="Record the decision (lease holder only; once: a second one is 409)")
def decide(queue_id: QueueId, body: DecisionRequest, request: Request, who: Reviewer):
    try:
        item = request.app.state.store.decide(queue_id, who.name, body.decision, body.categories,
                                              body.note)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    return _out(request, item)
