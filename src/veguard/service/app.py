"""`create_app(classifier, store, settings)`: the moderation API, review queue and reviewer page.

The app holds its collaborators on `app.state` (classifier, store, settings, lexicon, keyring,
batcher, metrics, limiter); routers read them from there. One pure-ASGI middleware does what
must happen around every request: the body-size limit (before anything parses), security
headers (a CSP that forbids inline script on everything but /docs), and request metrics.

What it leaves out: TLS and process management (run behind a reverse proxy; `veguard serve`
runs one uvicorn process).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from veguard.service.auth import KeyRing
from veguard.service.batching import Admission, MicroBatcher
from veguard.service.metrics import Metrics
from veguard.service.ratelimit import RateLimiter
from veguard.service.settings import Settings
from veguard.service.store import QueueError, QueueStore

log = logging.getLogger("veguard.service")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    # same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on our own
    # form posts, which the reviewer page's cross-site check would then refuse.
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
# Swagger UI needs its CDN script and an inline bootstrap; it shows no user content.
NO_CSP_PATHS = ("/docs", "/redoc", "/docs/oauth2-redirect")


def error_response(status: int, type_: str, message: str, fields: list | None = None,
                   headers: dict | None = None) -> JSONResponse:
    body = {"error": {"type": type_, "message": message, "fields": fields or []}}
    return JSONResponse(body, status_code=status, headers=headers)


class EdgeMiddleware:
    """Body limit, security headers and metrics, as raw ASGI so it wraps error responses too."""

    def __init__(self, app, max_body_bytes: int, metrics: Metrics):
        self.app = app
        self.max_body = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status_holder = {"status": 500}
        path = scope.get("path", "")

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers += SECURITY_HEADERS
                if not path.startswith(NO_CSP_PATHS):
                    headers.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            declared = dict(scope.get("headers", [])).get(b"content-length")
            too_big = declared is not None and declared.isdigit() and int(declared) > self.max_body
            body_receive = receive
            if not too_big and scope.get("method") in ("POST", "PUT", "PATCH"):
                # Read the body here (bounded) so chunked uploads are limited too.
                chunks, size, more = [], 0, True
                while more:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_body:
                        too_big = True
                        break
                    chunks.append(chunk)
                    more = message.get("more_body", False)
                body = b"".join(chunks)
                sent = False

                async def body_receive():
                    nonlocal sent
                    if not sent:
                        sent = True
                        return {"type": "http.request", "body": body, "more_body": False}
                    return await receive()

            if too_big:
                resp = error_response(413, "payload_too_large",
                                      f"request body exceeds {self.max_body} bytes")
                return await resp(scope, receive, send_wrapper)
            await self.app(scope, body_receive, send_wrapper)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope.get("method", ""), label,
                                         str(status_holder["status"])).inc()
            self.metrics.latency.labels(label).observe(time.perf_counter() - start)


_TAG = re.compile(r"[\[\]()]")


def _validation_fields(errors) -> list[dict]:
    out = []
    for e in errors:
        # Drop "body" and pydantic's union-branch tags ("list[...]", "function-after[...]").
        loc = [str(p) for p in e.get("loc", ()) if p != "body" and not _TAG.search(str(p))]
        problem = e.get("msg", "")
        if not loc and e.get("type") == "model_attributes_type":
            problem = "the body must be a JSON object (send Content-Type: application/json)"
        out.append({"field": ".".join(loc) or "body", "problem": problem,
                    "type": e.get("type", "")})
    return out


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if bad_json is not None:
            pos = bad_json.get("ctx", {}).get("error", "")
            loc = [p for p in bad_json.get("loc", ()) if p != "body"]
            where = f" at character {loc[0]}" if loc else ""
            return error_response(400, "invalid_json", f"body is not valid JSON{where}: {pos}")
        fields = _validation_fields(errors)
        names = ", ".join(dict.fromkeys(f["field"] for f in fields))
        return error_response(422, "invalid_request", f"invalid field(s): {names}", fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        kind = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                409: "conflict", 413: "payload_too_large", 429: "rate_limited",
                503: "unavailable"}.get(
            exc.status_code, "error")
        detail = str(exc.detail)
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "body is not valid JSON (or not UTF-8)"
            kind = "invalid_json"
        if request.url.path.startswith("/review"):
            from veguard.service.routes.web import error_page

            if exc.status_code == 401:  # no (live) session: the login page, not an error
                return RedirectResponse("/review/login", status_code=303)
            return error_page(exc.status_code, detail)
        return error_response(exc.status_code, kind, detail,
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(QueueError)
    async def _queue(request: Request, exc: QueueError):
        return error_response(exc.status, type(exc).__name__, str(exc))


def create_app(classifier=None, store: QueueStore | None = None,
               settings: Settings | None = None, *,
               loader: Callable[[], object] | None = None, banks=None) -> FastAPI:
    """Build the app. Pass a loaded `classifier`, or a `loader` run in the background at
    startup (until it finishes /readyz answers 503 and scoring endpoints 503). `banks` is a
    `veguard.banks.matcher.Matcher` (None: no banks, no `matches` in results).

    A bad `unsupported_lexicon` file is a ValueError naming the file and line, here, before
    anything is served."""
    from veguard.service.lexicon import Lexicon
    from veguard.service.routes import admin, moderation, ops, queue, web
    from veguard.service.routes import banks as banks_routes
    from veguard.service.store import MemoryStore

    settings = settings or Settings()
    lexicon = Lexicon.load(settings.unsupported_lexicon) if settings.unsupported_lexicon else None
    store = store if store is not None else MemoryStore()
    metrics = Metrics(store, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if app.state.classifier is None and loader is not None:
            threading.Thread(target=_load, args=(app, loader), name="veguard-load",
                             daemon=True).start()
        yield
        if app.state.batcher is not None:
            app.state.batcher.stop()

    app = FastAPI(title="veguard", version="1",
                  description="Violent-extremism moderation API and human review queue.",
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.lexicon = lexicon
    app.state.store = store
    app.state.metrics = metrics
    app.state.keyring = KeyRing.from_config(store, settings.api_keys)
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    app.state.classifier = None
    app.state.batcher = None
    app.state.load_error = None
    app.state.banks = banks
    if classifier is not None:
        set_classifier(app, classifier)
    app.add_middleware(EdgeMiddleware, max_body_bytes=settings.max_body_bytes, metrics=metrics)
    _install_error_handlers(app)
    for module in (ops, moderation, queue, admin, banks_routes, web):
        app.include_router(module.router)
    web.mount_static(app)
    return app


def set_classifier(app: FastAPI, classifier) -> None:
    s: Settings = app.state.settings
    if s.batching:
        app.state.batcher = MicroBatcher(classifier.score, s.batch_window_ms / 1000.0, s.max_batch,
                                         on_batch=app.state.metrics.batch_size.observe,
                                         max_pending=s.max_pending,
                                         max_wait_s=s.max_queue_ms / 1000.0)
        app.state.admission = app.state.batcher.admission
    else:
        app.state.admission = Admission(s.max_pending, s.max_queue_ms / 1000.0)
    app.state.classifier = classifier


def warm(classifier) -> None:
    """Load every stage of `classifier` and run one text through each, before it serves.

    A cascade loads its larger model on the first text its fast stage passes (`LazyBackend`):
    in a server that load (seconds for MPNet) fell on the first requests after `/readyz` said
    ready, inside a batch whose rate the backlog bound then measured. Backends are called
    directly, so nothing enters the result cache. The routing model, read on the first result
    flagged for extremism, is read now too.
    """
    prefilter = getattr(classifier, "prefilter", None)
    stages = [getattr(prefilter, "clf", None), classifier]
    for stage in stages:
        backend = getattr(stage, "backend", None)
        if backend is not None and hasattr(backend, "windows"):
            backend.windows(["warm-up"], 1)
    routing = getattr(classifier, "routing", None)
    if routing is not None:
        routing.predict(["warm-up"])


def _load(app: FastAPI, loader: Callable[[], object]) -> None:
    try:
        classifier = loader()
        warm(classifier)  # /readyz says ready once every stage is loaded and has run
        set_classifier(app, classifier)
        log.info("model %s loaded", app.state.classifier.name)
    except Exception as e:  # noqa: BLE001 - reported by /readyz, the server stays up
        app.state.load_error = f"{type(e).__name__}: {e}"
        log.error("model failed to load: %s", app.state.load_error)
