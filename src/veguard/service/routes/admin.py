"""Admin-only endpoints: export decisions in the training-corpus schema, create keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from veguard.service.auth import Principal, create_key, require
from veguard.service.export import export_decisions, to_jsonl
from veguard.service.schemas import ErrorResponse, KeyCreateRequest, KeyCreateResponse

router = APIRouter(tags=["admin"])
ERRORS = {c: {"model": ErrorResponse} for c in (401, 403, 409, 422)}
Admin = Annotated[Principal, Depends(require("admin"))]


@router.get("/v1/queue/export",
            responses={**ERRORS, 200: {"content": {"application/x-ndjson": {}}}},
            summary="Decided items as JSONL in the training-corpus schema (admin)")
def export(request: Request, who: Admin) -> Response:
    rows = export_decisions(request.app.state.store, who.name)
    return Response(to_jsonl(rows), media_type="application/x-ndjson",
                    headers={"Content-Disposition": 'attachment; filename="decisions.jsonl"'})


@router.post("/v1/admin/keys", response_model=KeyCreateResponse, status_code=201,
             responses=ERRORS, summary="Create an API key (admin); the token is shown once")
def create(body: KeyCreateRequest, request: Request, who: Admin) -> KeyCreateResponse:
    try:
        token = create_key(request.app.state.store, body.role, body.name, who.name)
    except ValueError as e:
        raise HTTPException(409, str(e)) from None
    return KeyCreateResponse(name=body.name, role=body.role, token=token)
