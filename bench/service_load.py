"""Service latency and throughput: single-text requests at concurrency 1 / 4 / 16.

    python bench/service_load.py serve MODEL_DIR PORT on|off     (used by run_service_bench)

The server (`veguard.service.create_app` under uvicorn, in-memory queue store, one static
client key) runs in its own process with in-server batching on, then off. The load comes from
this (a second) process over loopback: C concurrent clients each POST one text at a time to
/v1/moderations for a fixed time; latency percentiles are per request, throughput is requests/s.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def serve(model_dir: str, port: int, batching: bool, token: str) -> None:
    import uvicorn

    from veguard.modeling import Classifier
    from veguard.service.app import create_app
    from veguard.service.settings import Settings
    from veguard.service.store import MemoryStore

    clf = Classifier.load(model_dir)
    settings = Settings(batching=batching, api_keys=[f"client:bench:{token}"])
    app = create_app(clf, MemoryStore(), settings)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _drive(port: int, token: str, concurrency: int, seconds: float, texts: list[str]) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers,
                                 limits=limits, timeout=60) as client:

        async def user(k: int) -> None:
            nonlocal errors
            i = k
            while time.perf_counter() < stop:
                t = time.perf_counter()
                r = await client.post("/v1/moderations", json={"input": texts[i % len(texts)]})
                if r.status_code == 200:
                    latencies.append(time.perf_counter() - t)
                else:
                    errors += 1
                i += concurrency

        t0 = time.perf_counter()
        await asyncio.gather(*(user(k) for k in range(concurrency)))
        wall = time.perf_counter() - t0
    lat = np.array(latencies) * 1000
    pct = (lambda q: float(np.percentile(lat, q))) if len(lat) else (lambda q: float("nan"))
    return {"concurrency": concurrency, "requests": len(lat), "errors": errors,
            "rps": len(lat) / wall, "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99)}


def _wait_ready(port: int, proc: subprocess.Popen, timeout: float = 180) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("server not ready in time")


def run_service_bench(model_dir: Path, quick: bool, texts: list[str]) -> dict:
    seconds = 3 if quick else 15
    out: dict = {"seconds_per_level": seconds, "runs": []}
    for batching in (True, False):
        port, token = _free_port(), secrets.token_urlsafe(24)
        proc = subprocess.Popen(
            [sys.executable, __file__, "serve", str(model_dir), str(port),
             "on" if batching else "off"],
            env={**os.environ, "VEGUARD_BENCH_TOKEN": token},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            _wait_ready(port, proc)
            asyncio.run(_drive(port, token, 2, 2, texts))  # warm-up
            for c in (1, 4, 16):
                r = asyncio.run(_drive(port, token, c, seconds, texts))
                r["batching"] = batching
                r["load_after"] = os.getloadavg()[0]
                out["runs"].append(r)
                print(f"service batching={'on ' if batching else 'off'} c={c:>2}: "
                      f"{r['rps']:7.1f} req/s  p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms  "
                      f"p99 {r['p99_ms']:7.1f} ms  errors {r['errors']}", flush=True)
        except Exception as e:  # noqa: BLE001 - report and carry on with the other figures
            err = proc.stderr.read()[-1500:] if proc.poll() is not None and proc.stderr else ""
            print(f"service bench failed (batching={batching}): {e}\n{err}", file=sys.stderr)
            out.setdefault("errors", []).append(f"batching={batching}: {e}")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    return out


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "serve":
        sys.path.insert(0, str(ROOT / "src"))
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4] == "on", os.environ["VEGUARD_BENCH_TOKEN"])
    else:
        print(__doc__)
        sys.exit(2)
