"""Two `veguard serve` processes on one PostgreSQL database, driven at once (docs/SERVICE.md,
"Running N replicas").

The replicas share nothing but the database: no router, no sticky sessions. Clients enqueue
the same items through both; 12 reviewer threads claim, release and decide through both at
random. The test checks, over HTTP only: no item is held by two reviewers at once, none is
decided twice, none is lost, every claim/release/decision we made has exactly its audit row,
a key created on one replica works on the other, and each replica's `/metrics` counts its own
requests while both report the one queue's depth.

Needs VEGUARD_TEST_PG_URL (`eval "$(scripts/ci_services.sh)"`); it creates and drops its own
database on that server.
"""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

PG_URL = os.environ.get("VEGUARD_TEST_PG_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="VEGUARD_TEST_PG_URL is unset "
                                          "(run `eval $(scripts/ci_services.sh)`)"),
]
httpx = pytest.importorskip("httpx")

N_ITEMS = 120
N_REVIEWERS = 12


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def database():
    """A fresh database on the test server, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(PG_URL)
    name = f"veguard_replicas_{os.getpid()}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def replicas(database, tiny_model_factory, tmp_path_factory):
    """(admin token, [base URL of replica A, of replica B]), both ready."""
    from veguard.service.cli import serve_main
    from veguard.taxonomy import CATEGORIES
    from veguard.thresholds import Thresholds

    # Review point 0 and auto point above 1: every non-empty text is flagged for review.
    model = tiny_model_factory(thresholds=Thresholds(review=dict.fromkeys(CATEGORIES, 0.0),
                                                     auto=dict.fromkeys(CATEGORIES, 1.01)))
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert serve_main(["--init", "--db", database]) == 0
    admin = buf.getvalue().strip().splitlines()[-1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src"),
           "VEGUARD_THREADS": "1"}
    logs = tmp_path_factory.mktemp("replica_logs")
    procs, urls = [], []
    try:
        for name in ("a", "b"):
            port = _free_port()
            log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            procs.append((subprocess.Popen(
                [sys.executable, "-m", "veguard.cli", "serve", "--db", database, "--port",
                 str(port), "--model", str(model)], env=env, stdout=log, stderr=log), log))
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 120
        for (proc, _), url in zip(procs, urls, strict=True):
            while True:
                assert proc.poll() is None, "".join(f.read_text() for f in logs.iterdir())
                try:
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"{url} not ready in 120 s"
                time.sleep(0.2)
        yield admin, urls
    finally:
        for proc, log in procs:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _counter(metrics_text: str, route: str, status: int) -> float:
    # Greedy up to the last brace: route templates such as {queue_id} hold braces themselves.
    pat = re.compile(r'^veguard_http_requests_total\{(?P<labels>.*)\} (?P<v>\S+)$', re.MULTILINE)
    total = 0.0
    for m in pat.finditer(metrics_text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m["labels"]))
        if labels.get("route") == route and labels.get("status") == str(status) \
                and labels.get("method") == "POST":
            total += float(m["v"])
    return total


def _gauge(metrics_text: str, status: str) -> float:
    m = re.search(rf'^veguard_queue_depth\{{status="{status}"\}} (\S+)$', metrics_text,
                  re.MULTILINE)
    assert m, metrics_text[:500]
    return float(m[1])


def test_two_replicas_share_one_queue_without_double_claims_or_lost_audits(replicas):
    admin, urls = replicas
    # Keys created through one replica work on the other: keys live in the database.
    keys = {}
    for i, role in enumerate(["client"] + ["reviewer"] * N_REVIEWERS):
        name = "app" if role == "client" else f"rev{i}"
        r = httpx.post(urls[i % 2] + "/v1/admin/keys", headers=_auth(admin),
                       json={"role": role, "name": name}, timeout=30)
        assert r.status_code == 201, r.text
        keys[name] = r.json()["token"]

    # Enqueue every item through BOTH replicas at once: each is created exactly once.
    def classify(args):
        url, i = args
        r = httpx.post(url + "/v1/classify", headers=_auth(keys["app"]), timeout=60,
                       json={"item_id": f"post-{i}", "text": f"post number {i}", "source": "t"})
        assert r.status_code == 200, r.text
        return i, r.json()["queue"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(classify, [(u, i) for i in range(N_ITEMS) for u in urls]))
    created = Counter(i for i, q in results if q["created"])
    assert all(q["enqueued"] for _, q in results)
    assert sorted(created) == list(range(N_ITEMS)) and set(created.values()) == {1}
    assert len({q["queue_id"] for _, q in results}) == N_ITEMS

    lock = threading.Lock()
    holder: dict[int, str] = {}
    log: list[tuple[str, str, int, str]] = []  # (reviewer, action, queue id, replica) we did
    errors: list[str] = []
    sent = Counter()  # (replica, action) -> successful requests

    def reviewer(name: str, seed: int):
        rng = random.Random(seed)
        with httpx.Client(headers=_auth(keys[name]), timeout=60) as http:
            while True:
                url = rng.choice(urls)  # any replica, for every request: no stickiness
                r = http.post(url + "/v1/queue/claim")
                if r.status_code == 204:
                    return
                if r.status_code != 200:
                    errors.append(f"{name} claim: {r.status_code} {r.text[:200]}")
                    return
                qid = r.json()["id"]
                with lock:
                    if qid in holder:
                        errors.append(f"item {qid} claimed by {name} while {holder[qid]} holds it")
                    holder[qid] = name
                    log.append((name, "claim", qid, url))
                    sent[url, "claim"] += 1
                url = rng.choice(urls)
                if rng.random() < 0.2:  # give some back, so re-claims are exercised too
                    with lock:
                        del holder[qid]
                    r = http.post(url + f"/v1/queue/items/{qid}/release")
                    action = "release"
                else:
                    decision, code = rng.choice([("violating", "EXT-SUPPORT"),
                                                 ("benign", "NOT-OTHER")])
                    r = http.post(url + f"/v1/queue/items/{qid}/decision",
                                  json={"decision": decision, "reason_code": code})
                    action = "decide"
                if r.status_code != 200:
                    errors.append(f"{name} {action} {qid}: {r.status_code} {r.text[:200]}")
                    return
                with lock:
                    log.append((name, action, qid, url))
                    sent[url, action] += 1
                    holder.pop(qid, None)

    threads = [threading.Thread(target=reviewer, args=(f"rev{i}", i))
               for i in range(1, N_REVIEWERS + 1)]
    [t.start() for t in threads]
    [t.join(300) for t in threads]
    assert not any(t.is_alive() for t in threads), "reviewers did not finish in 300 s"
    assert not errors, errors[:5]

    decided = [qid for _, action, qid, _ in log if action == "decide"]
    assert len(decided) == len(set(decided)) == N_ITEMS  # each decided once, none lost
    assert all(sent[u, "claim"] > 0 and sent[u, "decide"] > 0 for u in urls)  # both served

    # Every action we took has exactly its audit row, whichever replica took it.
    review = _auth(keys["rev1"])
    by_item: dict[int, list[tuple[str, str]]] = {}
    for name, action, qid, _ in log:
        by_item.setdefault(qid, []).append((name, action))
    for qid, ours in by_item.items():
        r = httpx.get(urls[qid % 2] + f"/v1/queue/items/{qid}", headers=review, timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        trail = [(e["actor"], e["action"]) for e in body["audit"]]
        # Our log's order across reviewers can differ from the commit order (a release is
        # logged after its response, by which time another reviewer may hold the item), so
        # compare as multisets; the database's own order must end in the one decision.
        assert trail[0] == ("app", "enqueue") and trail.count(("app", "enqueue")) == 1
        assert Counter(trail[1:]) == Counter(ours), (qid, trail, ours)
        assert trail[-1][1] == "decide" and body["item"]["status"] == "decided"

    # /metrics is per replica: each counts the requests it served; the queue is the shared one.
    for url in urls:
        text = httpx.get(url + "/metrics", timeout=30).text
        assert _counter(text, "/v1/queue/claim", 200) == sent[url, "claim"]
        assert _counter(text, "/v1/queue/items/{queue_id}/decision", 200) == sent[url, "decide"]
        assert _gauge(text, "decided") == N_ITEMS
        assert _gauge(text, "pending") == 0 and _gauge(text, "claimed") == 0
