"""The reviewer web page: log in with a reviewer token (kept in an HttpOnly SameSite=Strict
cookie), list the queue, open an item, claim, decide, release.

Forms post urlencoded bodies that are parsed here with the standard library (no extra
dependency). State-changing posts also check that any Origin header is this site's own, on
top of the SameSite cookie. Errors on /review pages render as HTML (see `error_page`).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from veguard.service.auth import CAPABILITIES, COOKIE, Principal, authorize
from veguard.service.schemas import QueueId
from veguard.service.store import DECISIONS, STATUSES, QueueError
from veguard.service.web import STATIC, environment
from veguard.taxonomy import CATEGORIES

router = APIRouter(prefix="/review", include_in_schema=False)
ENV = environment()
MAX_FORM_FIELDS = 50


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")


def page(name: str, http_status: int = 200, **context) -> HTMLResponse:
    html = ENV.get_template(name).render(categories=CATEGORIES, **context)
    return HTMLResponse(html, status_code=http_status, headers={"Cache-Control": "no-store"})


def error_page(status: int, message: str) -> HTMLResponse:
    return page("error.html", http_status=status, status_code=status, message=message)


def _reviewer(request: Request) -> Principal:
    return authorize(request, "review", cookie=True)


def _same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise HTTPException(403, "cross-site form post refused")


async def _form(request: Request) -> dict[str, str]:
    _same_origin(request)
    raw = await request.body()
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True,
                          max_num_fields=MAX_FORM_FIELDS, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "form body is not valid urlencoded UTF-8") from None
    return {k: v[0] for k, v in parsed.items()}


@router.get("/login", response_class=HTMLResponse)
def login_form() -> HTMLResponse:
    return page("login.html")


@router.post("/login")
async def login(request: Request) -> Response:
    token = (await _form(request)).get("token", "").strip()
    principal = request.app.state.keyring.resolve(token)
    if principal is None:
        return page("login.html", http_status=401, message="That token is not valid.")
    if principal.role not in CAPABILITIES["review"]:
        return page("login.html", http_status=403, message="That key is not a reviewer key.")
    resp = RedirectResponse("/review", status_code=303)
    resp.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                    secure=request.app.state.settings.cookie_secure, max_age=12 * 3600)
    return resp


@router.post("/logout")
async def logout(request: Request) -> Response:
    await _form(request)
    resp = RedirectResponse("/review/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


def _choice(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if not value:
        return None
    if value not in allowed:
        raise HTTPException(422, f"{name}: expected one of {', '.join(allowed)}")
    return value


@router.get("", response_class=HTMLResponse)
def queue_page(request: Request, status: str | None = "pending", category: str | None = None,
               source: str | None = None) -> HTMLResponse:
    who = _reviewer(request)
    status = _choice(status, STATUSES, "status")
    category = _choice(category, CATEGORIES, "category")
    source = (source or "").replace("\x00", "").strip()[:100] or None
    store = request.app.state.store
    items = store.list_items(status=status, category=category, source=source, limit=200)
    return page("queue.html", who=who, items=items, depth=store.depth(), now=store.clock(),
                filters={"status": status or "", "category": category or "",
                         "source": source or ""},
                statuses=STATUSES, empty=request.query_params.get("empty") == "1")


@router.post("/claim-next")
async def claim_next(request: Request) -> Response:
    who = _reviewer(request)
    form = await _form(request)
    category = _choice(form.get("category"), CATEGORIES, "category")
    source = (form.get("source") or "").replace("\x00", "").strip()[:100] or None
    s = request.app.state
    item = s.store.claim_next(who.name, s.settings.lease_seconds, category=category, source=source)
    if item is None:
        return RedirectResponse("/review?empty=1", status_code=303)
    return RedirectResponse(f"/review/items/{item.id}", status_code=303)


@router.get("/items/{queue_id}", response_class=HTMLResponse)
def item_page(queue_id: QueueId, request: Request) -> HTMLResponse:
    who = _reviewer(request)
    store = request.app.state.store
    item = store.get(queue_id)
    if item is None:
        raise HTTPException(404, f"queue item {queue_id} does not exist")
    now = store.clock()
    status = item.effective_status(now)
    return page("item.html", who=who, item=item, status=status,
                mine=status == "claimed" and item.claimed_by == who.name,
                audit=store.audit_log(queue_id), decisions=DECISIONS,
                message=request.query_params.get("msg", "")[:200])


@router.post("/items/{queue_id}/{verb}")
async def item_action(queue_id: QueueId, verb: str, request: Request) -> Response:
    who = _reviewer(request)
    form = await _form(request)
    s = request.app.state
    try:
        if verb == "claim":
            s.store.claim(queue_id, who.name, s.settings.lease_seconds)
        elif verb == "release":
            s.store.release(queue_id, who.name)
            return RedirectResponse("/review", status_code=303)
        elif verb == "decide":
            decision = _choice(form.get("decision"), DECISIONS, "decision")
            if decision is None:
                raise HTTPException(422, "decision: required")
            corrections = {}
            for c in CATEGORIES:
                v = form.get(f"cat_{c}", "")
                if v in ("1", "0"):
                    corrections[c] = v == "1"
                elif v:
                    raise HTTPException(422, f"cat_{c}: expected 1, 0 or empty")
            note = form.get("note", "").replace("\x00", "")[:2000] or None
            try:
                s.store.decide(queue_id, who.name, decision, corrections or None, note)
            except ValueError as e:
                raise HTTPException(422, str(e)) from None
            return RedirectResponse("/review", status_code=303)
        else:
            raise HTTPException(404, f"unknown action {verb!r}")
    except QueueError as e:
        return error_page(e.status, str(e))
    return RedirectResponse(f"/review/items/{queue_id}", status_code=303)
