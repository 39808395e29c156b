"""The reviewer web page: log in with a reviewer token (a server-side session, see auth.py), list
and search the queue, claim (the escalation queue too, for seniors), decide with a reason code,
undo, bulk-decide a campaign, blind QA re-reviews, and the stats page.

Forms post urlencoded bodies that are parsed here with the standard library (no extra
dependency). State-changing posts also check that any Origin header is this site's own, on
top of the SameSite cookie. Messages shown in the page's message box are only those the app
stored in the reviewer's session (a flash), never text from the URL. Errors on /review pages
render as HTML (see `error_page`); without a live session they redirect to the login page.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from veguard.service.auth import (
    CAPABILITIES,
    COOKIE,
    Principal,
    authorize,
    hash_token,
    start_session,
)
from veguard.service.reasons import REASON_CODES, codes_for
from veguard.service.routes.queue import in_qa, qa_sample
from veguard.service.schemas import LANGUAGE_PATTERN, QueueId
from veguard.service.stats import queue_stats
from veguard.service.store import DECISIONS, LANES, STATUSES, QueueError
from veguard.service.web import STATIC, environment
from veguard.taxonomy import CATEGORIES

router = APIRouter(prefix="/review", include_in_schema=False)
ENV = environment()
MAX_FORM_FIELDS = 250
# Items longer than this show the evidence passage first and the full text collapsed.
LONG_ITEM_CHARS = 1200


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")


def page(name: str, http_status: int = 200, **context) -> HTMLResponse:
    html = ENV.get_template(name).render(categories=CATEGORIES, reason_codes=REASON_CODES,
                                         codes_for=codes_for, **context)
    return HTMLResponse(html, status_code=http_status, headers={"Cache-Control": "no-store"})


def error_page(status: int, message: str) -> HTMLResponse:
    return page("error.html", http_status=status, status_code=status, message=message)


def _reviewer(request: Request) -> Principal:
    return authorize(request, "review", cookie=True)


def _shift(request: Request, who: Principal) -> dict:
    """Per-session page context: the flash message and the exposure counter."""
    store = request.app.state.store
    if who.session is None:  # a bearer-token request (API tools): no session, no flash
        return {"message": "", "exposure": 0, "break_every": 0}
    rec = store.find_session(who.session)
    return {"message": store.pop_flash(who.session) or "",
            "exposure": rec.exposure if rec else 0,
            "break_every": request.app.state.settings.break_every}


def _flash(request: Request, who: Principal, message: str) -> None:
    if who.session is not None:
        request.app.state.store.set_flash(who.session, message[:500])


def _same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise HTTPException(403, "cross-site form post refused")


async def _form_lists(request: Request) -> dict[str, list[str]]:
    _same_origin(request)
    raw = await request.body()
    try:
        return parse_qs(raw.decode("utf-8"), keep_blank_values=True,
                        max_num_fields=MAX_FORM_FIELDS, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "form body is not valid urlencoded UTF-8") from None


async def _form(request: Request) -> dict[str, str]:
    return {k: v[0] for k, v in (await _form_lists(request)).items()}


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
    s = request.app.state
    session_id = start_session(s.store, principal, token, s.settings.session_hours)
    s.store.audit(principal.name, "login", None, {})
    resp = RedirectResponse("/review", status_code=303)
    resp.set_cookie(COOKIE, session_id, httponly=True, samesite="strict", path="/",
                    secure=s.settings.cookie_secure, max_age=int(s.settings.session_hours * 3600))
    return resp


@router.post("/logout")
async def logout(request: Request) -> Response:
    await _form(request)
    session_id = request.cookies.get(COOKIE)
    if session_id:
        request.app.state.store.revoke_session(hash_token(session_id))
    resp = RedirectResponse("/review/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


def _choice(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if not value:
        return None
    if value not in allowed:
        raise HTTPException(422, f"{name}: expected one of {', '.join(allowed)}")
    return value


def _text(value: str | None, limit: int) -> str | None:
    return (value or "").replace("\x00", "").strip()[:limit] or None


def _language(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    if value and not re.fullmatch(LANGUAGE_PATTERN, value):
        raise HTTPException(422, "language: expected an ISO 639-1 code such as 'ps'")
    return value or None


@router.get("", response_class=HTMLResponse)
def queue_page(request: Request, status: str | None = "pending", category: str | None = None,
               source: str | None = None, lane: str | None = None, q: str | None = None,
               author: str | None = None, item_id: str | None = None,
               language: str | None = None, undo: str | None = None) -> HTMLResponse:
    who = _reviewer(request)
    status = _choice(status, STATUSES, "status")
    category = _choice(category, CATEGORIES, "category")
    lane = _choice(lane, LANES, "lane")
    filters = {"status": status, "category": category, "lane": lane,
               "source": _text(source, 100), "q": _text(q, 200), "author": _text(author, 200),
               "item_id": _text(item_id, 200), "language": _language(language)}
    store = request.app.state.store
    items = store.list_items(**filters, limit=200)
    undoable = None
    if undo and undo.isdigit() and len(undo) < 11:
        cand = store.get(int(undo))
        window = request.app.state.settings.undo_seconds
        hist = store.history(int(undo)) if cand else []
        live = [d for d in hist if not d.undone and d.kind != "qa"]
        if live and live[-1].reviewer == who.name and store.clock() - live[-1].at <= window:
            undoable = cand
    return page("queue.html", who=who, items=items, depth=store.depth(), now=store.clock(),
                filters={k: v or "" for k, v in filters.items()}, statuses=STATUSES, lanes=LANES,
                undoable=undoable, undo_seconds=request.app.state.settings.undo_seconds,
                **_shift(request, who))


@router.post("/claim-next")
async def claim_next(request: Request) -> Response:
    who = _reviewer(request)
    form = await _form(request)
    category = _choice(form.get("category"), CATEGORIES, "category")
    source = _text(form.get("source"), 100)
    language = _language(form.get("language"))
    escalated = form.get("queue") == "escalation"
    if escalated and not who.senior:
        raise HTTPException(403, "only senior reviewers take escalated items")
    s = request.app.state
    item = s.store.claim_next(who.name, s.settings.lease_seconds, category=category,
                              source=source, language=language, escalated=escalated)
    if item is None:
        _flash(request, who, "Nothing to claim with those filters.")
        return RedirectResponse("/review", status_code=303)
    return RedirectResponse(f"/review/items/{item.id}", status_code=303)


@router.get("/items/{queue_id}", response_class=HTMLResponse)
def item_page(queue_id: QueueId, request: Request) -> Response:
    who = _reviewer(request)
    store = request.app.state.store
    item = store.get(queue_id)
    if item is None:
        raise HTTPException(404, f"queue item {queue_id} does not exist")
    if in_qa(item, who):  # the QA re-reviewer must not see the first decision here either
        return RedirectResponse(f"/review/qa/{queue_id}", status_code=303)
    now = store.clock()
    status = item.effective_status(now)
    banks = request.app.state.banks  # the "known content" badge; a page view is not traffic
    known = banks.match(item.text, count=False) if banks is not None else []
    return page("item.html", who=who, item=item, status=status, known=known,
                mine=status == "claimed" and item.claimed_by == who.name,
                audit=store.audit_log(queue_id), history=store.history(queue_id),
                decisions=DECISIONS, long=len(item.text) > LONG_ITEM_CHARS, blind=False,
                **_shift(request, who))


def _decision_form(form: dict[str, str]) -> tuple[str, dict[str, bool] | None, str | None,
                                                  str | None]:
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
    reason = form.get("reason_code") or None
    if reason is not None and reason not in REASON_CODES:
        raise HTTPException(422, f"reason_code: unknown code {reason[:40]!r}")
    note = form.get("note", "").replace("\x00", "")[:2000] or None
    return decision, corrections or None, reason, note


def _after_decision(request: Request, who: Principal) -> None:
    """Count the item against the shift; prompt a break every `break_every` items."""
    if who.session is None:
        return
    n = request.app.state.store.bump_exposure(who.session)
    every = request.app.state.settings.break_every
    if every and n % every == 0:
        _flash(request, who, f"You have reviewed {n} items this shift. Time for a break: step "
                             "away from the screen for a few minutes.")


@router.post("/items/{queue_id}/{verb}")
async def item_action(queue_id: QueueId, verb: str, request: Request) -> Response:
    who = _reviewer(request)
    form = await _form(request)
    s = request.app.state
    back = RedirectResponse(f"/review/items/{queue_id}", status_code=303)
    try:
        if verb == "claim":
            s.store.claim(queue_id, who.name, s.settings.lease_seconds, senior=who.senior)
        elif verb == "release":
            s.store.release(queue_id, who.name)
            return RedirectResponse("/review", status_code=303)
        elif verb == "undo":
            s.store.undo(queue_id, who.name, s.settings.undo_seconds, s.settings.lease_seconds)
            _flash(request, who, f"Decision on item {queue_id} undone; the item is yours again.")
        elif verb in ("decide", "qa"):
            decision, corrections, reason, note = _decision_form(form)
            try:
                if verb == "qa":
                    s.store.qa_decide(queue_id, who.name, decision, corrections, reason, note)
                else:
                    s.store.decide(queue_id, who.name, decision, corrections, note, reason,
                                   qa=qa_sample(request))
            except ValueError as e:
                if who.session is None:
                    raise HTTPException(422, str(e)) from None
                _flash(request, who, f"Not recorded: {e}")
                return RedirectResponse(f"/review/{'qa/' if verb == 'qa' else 'items/'}"
                                        f"{queue_id}", status_code=303)
            _after_decision(request, who)
            if verb == "qa":
                return RedirectResponse("/review/qa", status_code=303)
            return RedirectResponse(f"/review?undo={queue_id}", status_code=303)
        else:
            raise HTTPException(404, f"unknown action {verb!r}")
    except QueueError as e:
        return error_page(e.status, str(e))
    return back


@router.post("/bulk")
async def bulk(request: Request) -> Response:
    who = _reviewer(request)
    lists = await _form_lists(request)
    form = {k: v[0] for k, v in lists.items()}
    ids = [int(x) for x in lists.get("ids", []) if x.isdigit() and len(x) < 11]
    if not ids:
        raise HTTPException(422, "ids: select at least one item")
    decision, corrections, reason, note = _decision_form(form)
    if decision == "escalate":
        raise HTTPException(422, "decision: bulk decisions are 'violating' or 'benign'")
    s = request.app.state
    done, failed = 0, []
    for qid in ids:
        try:
            s.store.claim(qid, who.name, s.settings.lease_seconds, senior=who.senior)
            try:
                s.store.decide(qid, who.name, decision, corrections, note, reason,
                               qa=qa_sample(request))
            except ValueError as e:
                s.store.release(qid, who.name)
                failed.append(f"{qid}: {e}")
                continue
            s.store.audit(who.name, "bulk", qid, {"batch": len(ids)})
            done += 1
        except QueueError as e:
            failed.append(f"{qid}: {e}")
    msg = f"Bulk {decision}: {done} of {len(ids)} items decided."
    if failed:
        msg += " Not decided: " + "; ".join(failed[:5])
    _flash(request, who, msg)
    return RedirectResponse("/review", status_code=303)


@router.get("/qa", response_class=HTMLResponse)
def qa_next(request: Request) -> Response:
    who = _reviewer(request)
    s = request.app.state
    item = s.store.qa_claim_next(who.name, s.settings.lease_seconds)
    if item is None:
        _flash(request, who, "No items waiting for QA re-review.")
        return RedirectResponse("/review", status_code=303)
    return RedirectResponse(f"/review/qa/{item.id}", status_code=303)


@router.get("/qa/{queue_id}", response_class=HTMLResponse)
def qa_page(queue_id: QueueId, request: Request) -> HTMLResponse:
    who = _reviewer(request)
    store = request.app.state.store
    item = store.get(queue_id)
    if item is None or item.qa_status != "claimed" or item.qa_claimed_by != who.name:
        raise HTTPException(404, f"queue item {queue_id} is not in your QA re-review")
    # Blind: the template gets no history or audit, and shows no decision.
    return page("item.html", who=who, item=item, status="qa", mine=True, audit=[], history=[],
                decisions=("violating", "benign"), long=len(item.text) > LONG_ITEM_CHARS,
                blind=True, **_shift(request, who))


@router.get("/stats", response_class=HTMLResponse)
def stats_page(request: Request) -> HTMLResponse:
    who = _reviewer(request)
    st = queue_stats(request.app.state.store, request.app.state.settings.sla_seconds)
    return page("stats.html", who=who, st=st, **_shift(request, who))
