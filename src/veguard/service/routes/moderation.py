"""Scoring endpoints: `/v1/moderations` (OpenAI-moderation shaped) and `/v1/classify` (one item,
with metadata, optionally enqueued for review). Both need a `client` (or `admin`) key and are
rate-limited per key (429 with Retry-After), and refused with 429 and Retry-After when the
model's backlog is full (`Settings.max_pending`).

`/v1/moderations` accepts OpenAI's model names (`OPENAI_ALIASES`) and answers with the served
model's name, so the official client works unchanged."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from veguard.result import ScoreResult
from veguard.service.auth import Principal, authorize
from veguard.service.batching import Saturated, direct_score
from veguard.service.lexicon import apply_unsupported
from veguard.service.ratelimit import retry_after_header
from veguard.service.routes.banks import attach_matches, enqueue_wanted, known_violating
from veguard.service.schemas import (
    ClassifyRequest,
    ClassifyResponse,
    ErrorResponse,
    ModerationRequest,
    ModerationResponse,
    ModerationResult,
    QueueRef,
)
from veguard.service.store import NewItem
from veguard.taxonomy import POLICY_VERSION

log = logging.getLogger("veguard.service")
router = APIRouter(tags=["moderation"])
ERRORS = {c: {"model": ErrorResponse} for c in (400, 401, 403, 413, 422, 429, 503)}
# OpenAI's moderation model names: a drop-in client sends these; we serve our model for them.
OPENAI_ALIASES = ("omni-moderation-latest", "text-moderation-latest", "text-moderation-stable")


def _client(request: Request) -> Principal:
    return authorize(request, "score")


Client = Annotated[Principal, Depends(_client)]


def rate_limit(request: Request, who: Principal, cost: int) -> None:
    wait = request.app.state.limiter.take(who.name, cost)
    if wait is not None:
        request.app.state.metrics.rate_limited.inc()
        raise HTTPException(429, f"rate limit for key {who.name!r} exceeded; retry later",
                            headers={"Retry-After": retry_after_header(wait)})


def model_info(clf) -> dict:
    """What the statement of reasons records about the model that scored an item."""
    meta = getattr(clf, "meta", None)  # a modeldir.ModelMeta on the real Classifier
    policy = getattr(meta, "policy_version", None) or POLICY_VERSION
    th = clf.thresholds
    return {"model": clf.name, "model_version": str(getattr(clf, "model_version", "") or ""),
            "thresholds": {"review": dict(th.review), "auto": dict(th.auto)},
            "policy_version": str(policy)}


async def score_texts(request: Request, texts: list[str]) -> list[ScoreResult]:
    """Score through the batcher (or directly when batching is off); map failures to HTTP."""
    app = request.app
    clf = app.state.classifier
    if clf is None:
        raise HTTPException(503, "model not loaded yet")
    timeout = app.state.settings.score_timeout_s
    try:
        if app.state.batcher is not None:
            results = await app.state.batcher.score(texts, timeout)
        else:
            results = await direct_score(clf.score, texts, timeout, app.state.admission)
    except Saturated as e:
        app.state.metrics.rate_limited.inc()
        raise HTTPException(429, f"the server is at capacity ({e.pending} texts waiting); "
                                 "retry later",
                            headers={"Retry-After": retry_after_header(e.retry_after)}) from None
    except TimeoutError:
        raise HTTPException(503, f"scoring took longer than {timeout:g} s") from None
    except ValueError as e:  # the classifier's way of saying the input is unusable
        raise HTTPException(422, f"the classifier rejected the input: {e}") from None
    except Exception:
        log.exception("classifier failed")
        raise HTTPException(500, "the classifier failed; see the server log") from None
    apply_unsupported(results, texts, app.state.settings.unsupported_action, app.state.lexicon)
    app.state.metrics.observe_results(results)
    return results


@router.post("/v1/moderations", response_model=ModerationResponse, responses=ERRORS,
             summary="Score one or more texts (shaped like the OpenAI moderation API)")
async def moderations(body: ModerationRequest, request: Request,
                      who: Client) -> ModerationResponse:
    clf = request.app.state.classifier
    if (body.model is not None and clf is not None and body.model != clf.name
            and body.model not in OPENAI_ALIASES):
        raise HTTPException(422, f"model: this server serves {clf.name!r} (or accepts "
                                 f"{', '.join(OPENAI_ALIASES)}), not {body.model!r}")
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    rate_limit(request, who, len(texts))
    results = await score_texts(request, texts)
    results, matches = await attach_matches(request, texts, results)
    per_text = matches if matches is not None else [None] * len(results)
    return ModerationResponse(id="modr-" + uuid.uuid4().hex,
                              model=request.app.state.classifier.name,
                              results=[ModerationResult.of(r, m)
                                       for r, m in zip(results, per_text, strict=True)])


@router.post("/v1/classify", response_model=ClassifyResponse, responses=ERRORS,
             summary="Score one item with metadata and enqueue it for review if it qualifies")
async def classify(body: ClassifyRequest, request: Request,
                   who: Client) -> ClassifyResponse:
    rate_limit(request, who, 1)
    (result,) = await score_texts(request, [body.text])
    (result,), matches = await attach_matches(request, [body.text], [result])
    matches = None if matches is None else matches[0]
    app = request.app
    info = model_info(app.state.classifier)
    model = info["model"]
    # `action` review without a flag: a text the model cannot read, sent to review by the
    # unsupported-language setting (service/lexicon.py).
    wanted = (result.action == "auto" if app.state.settings.enqueue_on == "auto"
              else result.flagged or (not result.supported and result.action == "review"))
    wanted = enqueue_wanted(result, matches, wanted)
    if not body.enqueue:
        ref = QueueRef(enqueued=False, created=False, queue_id=None, priority=None,
                       reason="enqueue was false")
    elif not wanted:
        ref = QueueRef(enqueued=False, created=False, queue_id=None, priority=None,
                       reason=f"below the {app.state.settings.enqueue_on} operating point")
    else:
        new = NewItem.from_result(result, item_id=body.item_id, text=body.text,
                                  source=body.source, author=body.author,
                                  context=body.context, client=who.name, **info)
        new.known_content = known_violating(matches)
        item, created = await run_in_threadpool(app.state.store.enqueue, new, who.name)
        if not created:
            reason = "item_id already in the queue with this text"
        elif item.version > 1:
            reason = (f"changed text: version {item.version} of the item "
                      f"(previous: {item.previous_id})")
        else:
            reason = "new item"
        ref = QueueRef(enqueued=True, created=created, queue_id=item.id, priority=item.priority,
                       version=item.version, reason=reason)
    return ClassifyResponse(item_id=body.item_id, model=model,
                            result=ModerationResult.of(result, matches), queue=ref)
