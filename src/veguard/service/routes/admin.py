"""Admin-only endpoints: export decisions (training-corpus schema, or statements of reasons),
create keys."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from veguard.service.auth import Principal, create_key, require
from veguard.service.export import decision_rows, statement_rows, to_jsonl
from veguard.service.schemas import ErrorResponse, KeyCreateRequest, KeyCreateResponse

router = APIRouter(tags=["admin"])
ERRORS = {c: {"model": ErrorResponse} for c in (401, 403, 409, 422)}
Admin = Annotated[Principal, Depends(require("admin"))]


@router.get("/v1/queue/export",
            responses={**ERRORS, 200: {"content": {"application/x-ndjson": {}}}},
            summary="Decided items as JSONL: corpus rows, or statements of reasons (admin)")
def export(request: Request, who: Admin,
           kind: Annotated[Literal["corpus", "statements"], Query(
               description="'corpus' (veguard data build --decisions) or 'statements' "
                           "(statement of reasons per final decision)")] = "corpus") -> Response:
    store = request.app.state.store
    items = store.decided_items()
    rows = decision_rows(items) if kind == "corpus" else statement_rows(items)
    body = to_jsonl(rows)
    store.audit(who.name, "export", None, {"rows": len(rows), "kind": kind})
    return Response(body, media_type="application/x-ndjson",
                    headers={"Content-Disposition": f'attachment; filename="{kind}.jsonl"'})


@router.post("/v1/admin/keys", response_model=KeyCreateResponse, status_code=201,
             responses=ERRORS, summary="Create an API key (admin); the token is shown once")
def create(body: KeyCreateRequest, request: Request, who: Admin) -> KeyCreateResponse:
    store = request.app.state.store
    expires = store.clock() + body.expires_days * 86400 if body.expires_days else None
    try:
        token = create_key(store, body.role, body.name, who.name, expires)
    except ValueError as e:
        raise HTTPException(409, str(e)) from None
    return KeyCreateResponse(name=body.name, role=body.role, token=token)
