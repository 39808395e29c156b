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


def login(c, token) -> str:
    r = c.post("/review/login", content=f"token={token}", headers=FORM, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert token not in cookie  # the cookie holds a session id, never the key
    return c.cookies.get("veguard_session")


def test_login_and_roles(site):
    c, keys, _ = site
    r = c.get("/review/login")
    assert r.status_code == 200 and "default-src 'self'" in r.headers["content-security-policy"]
    assert_inert(r.text)
    anon = c.get("/review", follow_redirects=False)
    assert anon.status_code == 303 and anon.headers["location"] == "/review/login"
    bad = c.post("/review/login", content="token=nope", headers=FORM)
    assert bad.status_code == 401 and "not valid" in bad.text
    client_key = c.post("/review/login", content=f"token={keys['client']}", headers=FORM)
    assert client_key.status_code == 403 and "set-cookie" not in client_key.headers
    session = login(c, keys["reviewer"])
    assert c.get("/review", follow_redirects=False).status_code == 200
    c.post("/review/logout", headers=FORM, content="")
    assert c.get("/review", follow_redirects=False).status_code == 303
    # Logout revoked the session server-side: replaying the old cookie does not work.
    c.cookies.set("veguard_session", session)
    assert c.get("/review", follow_redirects=False).status_code == 303
    # Nor does the raw key as a cookie (v1 kept the key there).
    c.cookies.set("veguard_session", keys["reviewer"])
    assert c.get("/review", follow_redirects=False).status_code == 303


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
        form = (f"decision=benign&reason_code=NOT-OTHER"
                f"&note={__import__('urllib.parse').parse.quote(note)}")
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
    wrong = c.post("/review/items/1/decide", follow_redirects=False, headers=FORM,
                   content="decision=violating&cat_hate=0&reason_code=HATE-SLUR")
    # Not recorded: back to the item (the claim is kept) with the reason in a flash message.
    assert wrong.status_code == 303 and wrong.headers["location"] == "/review/items/1"
    flash = c.get("/review/items/1").text
    assert "Not recorded: categories: a &#39;violating&#39; decision" in flash
    assert store.get(1).status == "claimed"
    ok = c.post("/review/items/1/decide", headers=FORM, follow_redirects=False,
                content="decision=violating&cat_violence=1&reason_code=VIO-THREAT")
    assert ok.status_code == 303 and store.get(1).decision_categories == {"violence": True}
    assert store.get(1).reason_code == "VIO-THREAT"
    again = c.post("/review/items/1/decide", content="decision=benign&reason_code=NOT-NEWS",
                   headers=FORM)
    assert again.status_code == 409 and "already decided" in again.text
    empty = c.post("/review/claim-next", headers=FORM, content="", follow_redirects=False)
    assert empty.headers["location"] == "/review"
    assert "Nothing to claim" in c.get("/review").text
    assert c.get("/review/items/77").status_code == 404
    assert c.get("/review", params={"status": "bogus"}).status_code == 422


def test_static_script_has_no_html_building():
    from veguard.service.web import STATIC

    js = (STATIC / "review.js").read_text()
    assert "innerHTML" not in js and "eval(" not in js and "document.write" not in js


# ---- queue v2 (issue #13) ----------------------------------------------------------------
def meta_rows(html: str) -> dict[str, str]:
    """The item page's metadata table as {label: text}, by parsing rows (not positions)."""

    class Rows(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.cell, self.in_meta, self.buf = {}, None, False, []

        def handle_starttag(self, tag, attrs):
            if tag == "table" and dict(attrs).get("id") == "meta":
                self.in_meta = True
            elif self.in_meta and tag in ("th", "td"):
                self.cell, self.buf = tag, []

        def handle_endtag(self, tag):
            if tag == "table":
                self.in_meta = False
            elif self.in_meta and tag == "th":
                self.label = "".join(self.buf).strip()
            elif self.in_meta and tag == "td":
                self.rows[self.label] = "".join(self.buf).strip()
            if tag in ("th", "td"):
                self.cell = None

        def handle_data(self, data):
            if self.cell:
                self.buf.append(data)

    p = Rows()
    p.feed(html)
    return p.rows


def test_item_metadata_is_labelled_right_when_author_and_context_are_empty(site):
    c, keys, _store = site
    hc = {"Authorization": f"Bearer {keys['client']}"}
    c.post("/v1/classify", json={"item_id": "m", "text": "they are vermin", "source": "feed"},
           headers=hc)
    login(c, keys["reviewer"])
    rows = meta_rows(c.get("/review/items/1").text)
    assert rows["Author"] == "(none)" and rows["Context"] == "(none)"
    assert rows["Source"] == "feed" and rows["Model"].startswith("fake")
    assert rows["Evidence"].startswith("hate, characters")


def test_msg_in_the_url_is_not_shown_only_app_flashes_are(site):
    c, keys, _store = site
    hc = {"Authorization": f"Bearer {keys['client']}"}
    c.post("/v1/classify", json={"item_id": "f", "text": "vermin", "source": "s"}, headers=hc)
    login(c, keys["reviewer"])
    html = c.get("/review/items/1", params={"msg": "Your account is locked, call +1 555"}).text
    assert "account is locked" not in html and 'id="message"' not in html
    c.post("/review/items/1/claim", headers=FORM, content="")
    c.post("/review/items/1/decide", headers=FORM, content="decision=benign",  # no reason code
           follow_redirects=False)
    html = c.get("/review/items/1").text
    assert 'id="message"' in html and "reason_code: required" in html
    assert 'id="message"' not in c.get("/review/items/1").text  # a flash shows once


def test_invisible_and_bidi_characters_are_shown_and_warned(site):
    c, keys, _store = site
    hc = {"Authorization": f"Bearer {keys['client']}"}
    c.post("/v1/classify", headers=hc, json={
        "item_id": "b\u200bidi", "text": "they are vermin, says rtl\u202eegrof",
        "source": "s\u2066x",
        "author": "adm\u200din", "context": "c\ufeff"})
    login(c, keys["reviewer"])
    html = c.get("/review/items/1").text
    assert "\u202e" not in html and "\u200b" not in html and "\u200d" not in html
    marker = '<span class="invisible" title="invisible character">\u27e8U+202E\u27e9</span>'
    assert f"rtl{marker}egrof" in html
    rows = meta_rows(html)
    assert rows["Source"] == "s\u27e8U+2066\u27e9x" and rows["Author"] == "adm\u27e8U+200D\u27e9in"
    assert rows["Context"] == "c\u27e8U+FEFF\u27e9"
    assert 'id="invisible-warning"' in html
    listing = c.get("/review").text  # the list shows them too
    assert "\u27e8U+2066\u27e9" in listing and "\u2066" not in listing
    plain = c.post("/v1/classify", headers=hc,
                   json={"item_id": "p", "text": "vermin", "source": "s"})
    plain_id = plain.json()["queue"]["queue_id"]
    assert 'id="invisible-warning"' not in c.get(f"/review/items/{plain_id}").text


def test_revoked_key_ends_its_sessions(tmp_path):
    from veguard.service.sqlstore import SQLStore

    store = SQLStore(f"sqlite:///{tmp_path}/s.db")
    token = create_key(store, "reviewer", "rev", "t")
    with TestClient(create_app(FakeClassifier(), store)) as c:
        login(c, token)
        assert c.get("/review", follow_redirects=False).status_code == 200
        assert store.revoke_key("rev")
        assert c.get("/review", follow_redirects=False).status_code == 303


def test_undo_bulk_qa_stats_and_break_prompt_on_the_page(tmp_path):
    from veguard.service import Settings

    store = MemoryStore()
    keys = {n: create_key(store, r, n, "t") for n, r in
            (("client", "client"), ("ann", "reviewer"), ("ben", "reviewer"), ("sen", "senior"))}
    app = create_app(FakeClassifier(), store, Settings(qa_share=1.0, break_every=2))
    hc = {"Authorization": f"Bearer {keys['client']}"}
    with TestClient(app) as c:
        for i in range(4):
            c.post("/v1/classify", json={"item_id": f"i{i}", "text": f"vermin wave {i}",
                                         "source": "s"}, headers=hc)
        login(c, keys["ann"])
        c.post("/review/items/1/claim", headers=FORM, content="")
        r = c.post("/review/items/1/decide", headers=FORM, follow_redirects=False,
                   content="decision=violating&reason_code=HATE-SLUR")
        assert r.headers["location"] == "/review?undo=1"
        page = c.get("/review?undo=1").text
        assert 'id="undo-form"' in page and 'id="exposure">1<' in page
        c.post("/review/items/1/undo", headers=FORM, content="")
        assert store.get(1).status == "claimed" and store.get(1).decision is None
        c.post("/review/items/1/decide", headers=FORM, follow_redirects=False,
               content="decision=violating&reason_code=HATE-SLUR")
        assert "Time for a break" in c.get("/review").text  # the second item this shift
        r = c.post("/review/bulk", headers=FORM, follow_redirects=False,
                   content="ids=2&ids=3&decision=violating&reason_code=HATE-DEHUM&note=wave")
        assert r.status_code == 303 and "2 of 2 items decided" in c.get("/review").text
        assert [store.get(i).reason_code for i in (2, 3)] == ["HATE-DEHUM", "HATE-DEHUM"]
        c.post("/review/items/4/claim", headers=FORM, content="")
        c.post("/review/items/4/decide", headers=FORM, content="decision=escalate")
        assert 'id="senior-only"' in c.get("/review/items/4").text
        assert 'id="claim-escalated"' not in c.get("/review").text
        c.post("/review/logout", headers=FORM, content="")

        login(c, keys["ben"])
        r = c.get("/review/qa", follow_redirects=False)
        qid = int(r.headers["location"].rsplit("/", 1)[1])
        peek = c.get(f"/review/items/{qid}", follow_redirects=False)
        assert peek.headers["location"] == f"/review/qa/{qid}"  # no peeking at the first decision
        blind = c.get(f"/review/qa/{qid}").text
        assert 'id="blind-note"' in blind and "HATE-" not in blind.split('id="decide-form"')[0]
        assert "ann" not in blind  # who decided first is hidden too
        c.post(f"/review/items/{qid}/qa", headers=FORM,
               content="decision=violating&reason_code=HATE-SLUR")
        assert store.get(qid).qa_status == "done"
        stats = c.get("/review/stats").text
        assert 'id="kappa-reviewer"' in stats and "ann" in stats
        assert_inert(stats)
        c.post("/review/logout", headers=FORM, content="")

        login(c, keys["sen"])
        assert 'id="claim-escalated"' in c.get("/review").text
        r = c.post("/review/claim-next", headers=FORM, content="queue=escalation",
                   follow_redirects=False)
        assert r.headers["location"] == "/review/items/4"
        assert 'id="decide-escalate"' not in c.get("/review/items/4").text  # final here


def test_long_items_show_the_evidence_first_and_collapse_the_text(site):
    c, keys, _store = site
    hc = {"Authorization": f"Bearer {keys['client']}"}
    text = "background " * 300 + "they are vermin" + " more" * 200
    c.post("/v1/classify", json={"item_id": "long", "text": text, "source": "s"}, headers=hc)
    login(c, keys["reviewer"])
    html = c.get("/review/items/1").text
    assert html.index('id="evidence-passage"') < html.index('id="full-text"')
    assert 'href="#full-text" id="jump-evidence"' in html
    assert "<details id=\"full-text\">" in html  # collapsed
    passage = html.split('id="evidence-passage">', 1)[1].split("</div>", 1)[0]
    assert '<mark class="evidence">vermin</mark>' in passage and len(passage) < 800
