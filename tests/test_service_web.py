"""The reviewer page without a browser: login cookie flags, escaping of hostile content in every
field (checked by parsing the HTML, not by string search alone), the evidence highlight, CSP,
form decisions and the cross-site post check. The real-browser test is tests/browser/."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from veguard.service import create_app
from veguard.service.auth import create_key
from veguard.service.store import MemoryStore
from veguard.service.web import highlight
from veguard.testing import FakeClassifier

PAYLOADS = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>',
            "' onmouseover='alert(1)", '" autofocus onfocus="alert(1)',
            "</textarea><svg onload=alert(1)>"]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict]]:
    p = Tags()
    p.feed(html)
    return p.tags


def assert_inert(html: str) -> None:
    tags = tags_of(html)
    scripts = [a for t, a in tags if t == "script"]
    assert scripts == [{"src": "/static/review.js", "defer": None}]
    assert not [t for t, _ in tags if t in ("img", "svg", "iframe", "object")]
    handlers = [(t, k) for t, a in tags for k in a if k.startswith("on") or k == "autofocus"]
    assert not handlers, handlers


def test_highlight_escapes_before_wrapping():
    text = '<b>hi</b> kill them & "go"'
    out = str(highlight(text, {"start": 10, "end": 19, "category": "violence"}))
    assert out == '&lt;b&gt;hi&lt;/b&gt; <mark class="evidence">kill them</mark> &amp; &#34;go&#34;'
    inside = str(highlight("a<script>b", {"start": 1, "end": 9}))
    assert inside == 'a<mark class="evidence">&lt;script&gt;</mark>b'
    for bad in (None, {"start": 5, "end": 2}, {"start": -1, "end": 3}, {"start": 0, "end": 99},
                {"start": "0", "end": 3}):
        assert str(highlight("<i>x</i>", bad)) == "&lt;i&gt;x&lt;/i&gt;"


@pytest.fixture
def site():
    store = MemoryStore()
    keys = {r: create_key(store, r, f"{r}-1", "t") for r in ("client", "reviewer")}
    with TestClient(create_app(FakeClassifier(), store)) as c:
        yield c, keys, store


def login(c, token) -> None:
    r = c.post("/review/login", content=f"token={token}", headers=FORM, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_login_and_roles(site):
    c, keys, _ = site
    r = c.get("/review/login")
    assert r.status_code == 200 and "default-src 'self'" in r.headers["content-security-policy"]
    assert_inert(r.text)
    assert c.get("/review").status_code == 401
    bad = c.post("/review/login", content="token=nope", headers=FORM)
    assert bad.status_code == 401 and "not valid" in bad.text
    client_key = c.post("/review/login", content=f"token={keys['client']}", headers=FORM)
    assert client_key.status_code == 403 and "set-cookie" not in client_key.headers
    login(c, keys["reviewer"])
    assert c.get("/review").status_code == 200
    c.post("/review/logout", headers=FORM, content="")
    assert c.get("/review").status_code == 401


def test_hostile_content_is_escaped_everywhere(site):
    c, keys, store = site
    hc = {"Authorization": f"Bearer {keys['client']}"}
    for i, p in enumerate(PAYLOADS):
        r = c.post("/v1/classify", json={"item_id": f"x{i}{p}", "text": f"{p} kill them {p}",
                                         "source": p[:100], "author": p, "context": p}, headers=hc)
        assert r.json()["queue"]["created"]
    login(c, keys["reviewer"])
    page = c.get("/review", params={"source": PAYLOADS[1]})
    assert page.status_code == 200
    assert_inert(page.text)
    page = c.get("/review")
    assert_inert(page.text)
    assert PAYLOADS[0] not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    for item in store.list_items():
        c.post(f"/review/items/{item.id}/claim", headers=FORM, content="")
        html = c.get(f"/review/items/{item.id}").text
        assert_inert(html)
        assert '<mark class="evidence">kill them</mark>' in html
        note = "note " + PAYLOADS[item.id % len(PAYLOADS)]
        form = f"decision=benign&note={__import__('urllib.parse').parse.quote(note)}"
        r = c.post(
            f"/review/items/{item.id}/decide", content=form, headers=FORM, follow_redirects=False
        )
        assert r.status_code == 303
        html = c.get(f"/review/items/{item.id}").text
        assert_inert(html)
        assert store.get(item.id).note == note  # stored as given, shown escaped
    audit = c.get(f"/review/items/{store.list_items()[0].id}").text
    assert "decide" in audit and "enqueue" in audit


def test_form_decisions_leases_and_csrf(site):
    c, keys, store = site
    hc = {"Authorization": f"Bearer {keys['client']}"}
    c.post("/v1/classify", json={"item_id": "a", "text": "vermin", "source": "s"}, headers=hc)
    login(c, keys["reviewer"])
    r = c.post(
        "/review/claim-next", headers=FORM, content="category=&source=", follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/review/items/1"
    html = c.get("/review/items/1").text
    for key in ("v", "b", "e"):
        assert f'data-key="{key}"' in html
    assert 'class="content blurred text"' in html
    evil = c.post("/review/items/1/decide", content="decision=benign", follow_redirects=False,
                  headers={**FORM, "Origin": "https://evil.example"})
    assert evil.status_code == 403 and store.get(1).status == "claimed"
    bad = c.post("/review/items/1/decide", content="decision=maybe", headers=FORM)
    assert bad.status_code == 422
    wrong = c.post("/review/items/1/decide", content="decision=violating&cat_hate=0", headers=FORM)
    assert wrong.status_code == 422 and "violating" in wrong.text
    ok = c.post("/review/items/1/decide", content="decision=violating&cat_violence=1",
                headers=FORM, follow_redirects=False)
    assert ok.status_code == 303 and store.get(1).decision_categories == {"violence": True}
    again = c.post("/review/items/1/decide", content="decision=benign", headers=FORM)
    assert again.status_code == 409 and "already decided" in again.text
    empty = c.post("/review/claim-next", headers=FORM, content="", follow_redirects=False)
    assert empty.headers["location"] == "/review?empty=1"
    assert c.get("/review/items/77").status_code == 404
    assert c.get("/review", params={"status": "bogus"}).status_code == 422


def test_static_script_has_no_html_building():
    from veguard.service.web import STATIC

    js = (STATIC / "review.js").read_text()
    assert "innerHTML" not in js and "eval(" not in js and "document.write" not in js
