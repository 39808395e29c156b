"""The reviewer page in a real browser: Debian's Chromium, headless, driven by Playwright,
against the app served by uvicorn on 127.0.0.1 with the FakeClassifier.

A reviewer logs in with a token, claims the top item, finds the decision keys disabled while
the text is blurred, reveals it, picks a reason code, decides with the keyboard shortcut, sees
the item leave the queue and the undo offer; hostile payloads in the text, source, author,
context and note never execute (no dialog opens, no marker variable is set). A second test
checks layout: the metadata labels line up with their values, a long item shows its evidence
first and keeps the decision buttons on screen, greyscale applies, invisible characters show,
and nothing overflows at 1280 px or at a 390 px phone width.

Screenshots go to `test-artifacts/browser/` (git-ignored), or `$VEGUARD_TEST_ARTIFACTS`.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} is absent "
                              "(apt-get install chromium, or scripts/ci_services.sh)"),
]

ARTIFACTS = Path(os.environ.get("VEGUARD_TEST_ARTIFACTS")
                 or Path(__file__).resolve().parents[2] / "test-artifacts") / "browser"
XSS = ["<script>window.__xss=1;alert(1)</script>",
       '"><img src=x onerror="window.__xss=2;alert(2)">',
       "' onmouseover='window.__xss=3' x='"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    import uvicorn

    from veguard.service import create_app
    from veguard.service.auth import create_key
    from veguard.service.sqlstore import SQLStore
    from veguard.testing import FakeClassifier

    store = SQLStore(f"sqlite:///{tmp_path}/browser.db")
    keys = {r: create_key(store, r, f"{r}-1", "test") for r in ("client", "reviewer", "senior")}
    app = create_app(FakeClassifier(), store)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.025)
    assert srv.started, "uvicorn did not start"
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['client']}"}) as c:
        items = [("threat", f"{XSS[0]} i will shoot them {XSS[1]}", 0),
                 ("hate", f"they are vermin {XSS[2]}", 1)]
        for item_id, text, i in items:
            body = {"item_id": item_id, "text": text, "source": XSS[i][:100],
                    "author": XSS[(i + 1) % 3], "context": XSS[(i + 2) % 3]}
            r = c.post("/v1/classify", json=body)
            assert r.status_code == 200 and r.json()["queue"]["created"], r.text
    yield base, keys, store
    srv.should_exit = True
    thread.join(10)
    store.close()


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    assert path.stat().st_size > 1000
    return path


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_reviewer_claims_decides_and_payloads_stay_inert(server):
    from playwright.sync_api import sync_playwright

    base, keys, store = server
    dialogs: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(f"{base}/review/login")
            page.fill("#token", keys["reviewer"])
            page.click("#login")
            page.wait_for_url(f"{base}/review")
            assert page.locator("#who").inner_text() == "reviewer-1"
            assert page.locator("tr.item").count() == 2
            # The cookie holds a session id (not the token), and JavaScript cannot read it.
            assert page.evaluate("document.cookie") == ""
            cookie = page.context.cookies()[0]
            assert cookie["httpOnly"] and keys["reviewer"] not in cookie["value"]
            shot(page, "queue-1280")

            page.click("#claim-next")
            page.wait_for_url(f"{base}/review/items/*")
            assert "threat" in page.locator("h1").inner_text()
            text = page.locator("#text")
            assert "blur" in text.evaluate("e => getComputedStyle(e).filter")
            # Wellness: while blurred the decision buttons and their keys do nothing.
            assert page.locator("#decide-benign").is_disabled()
            page.keyboard.press("b")
            page.wait_for_timeout(200)
            assert "/review/items/" in page.url and store.get(1).status == "claimed"
            shot(page, "item-blurred-1280")
            page.keyboard.press("u")
            assert text.evaluate("e => getComputedStyle(e).filter") == "none"
            assert page.locator("mark.evidence").inner_text() == "i will shoot"
            assert XSS[0] in text.inner_text()  # shown as text, not run
            # Escaping, not only the CSP, keeps payloads out of the DOM as elements.
            assert page.locator("main img, main script, [onmouseover]").count() == 0
            assert page.locator("#author").inner_text() == XSS[1]

            assert page.locator("#decide-benign").is_enabled()
            page.fill("#note-input", XSS[1])
            page.select_option("#reason-code", "NOT-OTHER")
            page.locator("h1").click()  # move focus off the form fields so the shortcut applies
            shot(page, "item-revealed-1280")
            page.keyboard.press("b")
            page.wait_for_url(f"{base}/review?undo=1")
            ids = page.locator("tr.item td:nth-child(2)").all_inner_texts()
            assert ids == ["2"]  # the decided item left the (pending) queue
            assert page.locator("#depth-decided").inner_text() == "1"
            assert page.locator("#undo").is_visible()
            assert page.locator("#exposure").inner_text() == "1"

            page.goto(f"{base}/review/items/1")
            assert page.locator("#decision").is_visible()
            assert page.locator("#note").inner_text() == XSS[1]
            assert "decide" in page.locator("#audit").inner_text()
            assert page.evaluate("typeof window.__xss") == "undefined"
        finally:
            browser.close()
    assert dialogs == []
    item = store.get(1)
    assert (
        item.status == "decided" and item.decision == "benign" and item.decided_by == "reviewer-1"
    )
    assert item.reason_code == "NOT-OTHER"


def _login(page, base, token):
    page.goto(f"{base}/review/login")
    page.fill("#token", token)
    page.click("#login")
    page.wait_for_url(f"{base}/review")


def test_layout_long_items_wellness_and_narrow_screens(server):
    from playwright.sync_api import sync_playwright

    base, keys, _store = server
    long_text = ("Background paragraph about the city council meeting. " * 60
                 + "they are vermin " + "and the rest of a long post. " * 80 + "rtl\u202eegrof")
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['client']}"}) as c:
        r = c.post("/v1/classify", json={"item_id": "long", "text": long_text, "source": "blog"})
        qid = r.json()["queue"]["queue_id"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            for width, height, tag in ((1280, 900, "1280"), (390, 844, "narrow")):
                ctx = browser.new_context(viewport={"width": width, "height": height})
                page = ctx.new_page()
                _login(page, base, keys["reviewer"])
                assert no_horizontal_overflow(page), f"queue page overflows at {width}px"
                shot(page, f"queue-{tag}")
                page.goto(f"{base}/review/items/{qid}")
                if page.locator("#claim").count():
                    page.click("#claim")
                    page.wait_for_url(f"{base}/review/items/{qid}")
                # Empty author and context: each label sits on its value's row.
                for field in ("author", "context", "source"):
                    label = page.locator(f"#meta tr:has(#{field}) th").bounding_box()
                    value = page.locator(f"#{field}").bounding_box()
                    assert abs(label["y"] - value["y"]) < 2, field
                assert page.locator("#author").inner_text() == "(none)"
                assert page.locator("#invisible-warning").is_visible()
                # Long item: evidence passage first, full text collapsed, buttons on screen.
                assert page.locator("#evidence-passage mark.evidence").inner_text() == "vermin"
                assert not page.locator("#text").is_visible()
                buttons = page.locator("#decision-buttons").bounding_box()
                assert 0 <= buttons["y"] and buttons["y"] + buttons["height"] <= height + 1
                assert no_horizontal_overflow(page), f"item page overflows at {width}px"
                shot(page, f"item-long-{tag}")
                page.keyboard.press("u")
                page.click("#jump-evidence")
                assert page.locator("#text").is_visible()  # the jump opened the full text
                marker = page.locator("#text .invisible").last
                assert marker.inner_text() == "\u27e8U+202E\u27e9"
                page.keyboard.press("g")
                assert "grayscale" in page.evaluate(
                    "getComputedStyle(document.getElementById('meta')).filter")
                assert "grayscale" in page.evaluate(
                    "getComputedStyle(document.getElementById('full-text')).filter")
                buttons = page.locator("#decision-buttons").bounding_box()
                assert 0 <= buttons["y"] and buttons["y"] + buttons["height"] <= height + 1
                shot(page, f"item-long-revealed-grey-{tag}")
                page.keyboard.press("g")
                page.click("#release")
                page.wait_for_url(f"{base}/review")
                ctx.close()
        finally:
            browser.close()


def test_bulk_escalation_and_qa_flows(server):
    """Bulk-decide a campaign from the list, escalate an item, a senior takes it from the
    escalation queue; the stats page renders; all at a narrow width too."""
    from playwright.sync_api import sync_playwright

    base, keys, store = server
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['client']}"}) as c:
        camp = [c.post("/v1/classify", json={"item_id": f"camp-{i}", "source": "s",
                                             "text": f"they are vermin, campaign 9 #{i}"})
                .json()["queue"]["queue_id"] for i in range(3)]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            _login(page, base, keys["reviewer"])
            page.fill("#search-q", "campaign 9")
            page.click("#filter")
            page.wait_for_url(f"{base}/review?*")
            assert sorted(int(x) for x in page.locator("tr.item").evaluate_all(
                "rows => rows.map(r => r.dataset.id)")) == camp
            for qid in camp:
                page.check(f"#select-{qid}")
            page.select_option("#bulk-reason", "HATE-DEHUM")
            shot(page, "bulk-1280")
            page.click("#bulk-benign")  # benign with a violating code: refused per item
            page.wait_for_url(f"{base}/review")
            assert "0 of 3 items decided" in page.locator("#message").inner_text()
            page.fill("#search-q", "campaign 9")
            page.click("#filter")
            page.wait_for_url(f"{base}/review?*")
            for qid in camp:
                page.check(f"#select-{qid}")
            page.select_option("#bulk-reason", "HATE-DEHUM")
            page.click("#bulk-violating")
            page.wait_for_url(f"{base}/review")
            assert "3 of 3 items decided" in page.locator("#message").inner_text()
            assert all(store.get(q).decision == "violating" for q in camp)

            page.click("#claim-next")
            page.wait_for_url(f"{base}/review/items/*")
            escalated = int(page.url.rsplit("/", 1)[1])
            page.keyboard.press("u")
            page.keyboard.press("e")
            page.wait_for_url(f"{base}/review?undo=*")
            assert store.get(escalated).status == "escalated"
            page.goto(f"{base}/review/items/{escalated}")
            assert page.locator("#senior-only").is_visible()
            page.click("#logout")
            page.wait_for_url(f"{base}/review/login")

            page.set_viewport_size({"width": 390, "height": 844})
            _login(page, base, keys["senior"])
            page.click("#claim-escalated")
            page.wait_for_url(f"{base}/review/items/{escalated}")
            assert page.locator("#decide-escalate").count() == 0
            assert no_horizontal_overflow(page)  # long unbroken payloads in the metadata wrap
            page.keyboard.press("u")
            page.select_option("#reason-code", "VIO-THREAT")
            page.locator("h1").click()
            shot(page, "escalated-senior-narrow")
            page.keyboard.press("v")
            page.wait_for_url(f"{base}/review?undo=*")
            assert store.get(escalated).decided_by == "senior-1"
            page.goto(f"{base}/review/stats")
            assert page.locator("#kappa-reviewer").is_visible()
            assert no_horizontal_overflow(page)
            shot(page, "stats-narrow")
        finally:
            browser.close()
