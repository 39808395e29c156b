"""Liveness, readiness and Prometheus metrics: open to anonymous callers (no content in them)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

router = APIRouter(tags=["ops"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the model is loaded (503 until then)")
def readyz(request: Request):
    clf = request.app.state.classifier
    if clf is None:
        err = request.app.state.load_error
        body = {"status": "failed" if err else "loading", "error": err}
        return JSONResponse(body, status_code=503)
    return {"status": "ready", "model": clf.name}


@router.get("/metrics", summary="Prometheus metrics (text exposition format)")
def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
