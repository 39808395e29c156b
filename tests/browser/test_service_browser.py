"""The reviewer page in a real browser: Debian's Chromium, headless, driven by Playwright,
against the app served by uvicorn on 127.0.0.1 with the FakeClassifier.

A reviewer logs in with a token, claims the top item, reveals the blurred text, decides it with
the keyboard shortcut, and sees it leave the queue; hostile payloads in the text, source,
author, context and note never execute (no dialog opens, no marker variable is set).
"""

from __future__ import annotations

import os
import socket
import threading
import time

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
    keys = {r: create_key(store, r, f"{r}-1", "test") for r in ("client", "reviewer")}
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


def test_reviewer_claims_decides_and_payloads_stay_inert(server):
    from playwright.sync_api import sync_playwright

    base, keys, store = server
    dialogs: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(f"{base}/review/login")
            page.fill("#token", keys["reviewer"])
            page.click("#login")
            page.wait_for_url(f"{base}/review")
            assert page.locator("#who").inner_text() == "reviewer-1"
            assert page.locator("tr.item").count() == 2
            # The cookie holds the token but JavaScript cannot read it.
            assert page.evaluate("document.cookie") == ""

            page.click("#claim-next")
            page.wait_for_url(f"{base}/review/items/*")
            assert "threat" in page.locator("h1").inner_text()
            text = page.locator("#text")
            assert "blur" in text.evaluate("e => getComputedStyle(e).filter")
            page.keyboard.press("u")
            assert text.evaluate("e => getComputedStyle(e).filter") == "none"
            assert page.locator("mark.evidence").inner_text() == "i will shoot"
            assert XSS[0] in text.inner_text()  # shown as text, not run
            # Escaping, not only the CSP, keeps payloads out of the DOM as elements.
            assert page.locator("main img, main script, [onmouseover]").count() == 0
            assert page.locator("#author").inner_text() == XSS[1]

            page.fill("#note-input", XSS[1])
            page.locator("body").click()  # move focus off the textarea so the shortcut applies
            page.keyboard.press("b")
            page.wait_for_url(f"{base}/review")
            ids = page.locator("tr.item td:first-child").all_inner_texts()
            assert ids == ["2"]  # the decided item left the (pending) queue
            assert page.locator("#depth-decided").inner_text() == "1"

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
