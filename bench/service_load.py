"""Service latency and throughput, with the server started as a user starts it.

    python bench/service_load.py [--model DIR] [--seconds 15] [--clients 1,16,64] [--no-off]
                                 [--cache] [--texts FILE | --mix N]

`veguard serve --init` on a fresh SQLite file, `veguard queue keys create --role client`, then
`veguard serve --db ...` (in-server batching on, then `--no-batching`) in its own process. The
per-key rate limit is switched off (`--rate-limit-per-minute 0`): one benchmark key stands for
many clients, and the figure wanted is what the server does, not what one key may. The load
comes from this (a second) process over loopback: C concurrent clients each POST one short
text at a time to /v1/moderations for a fixed time. Latency percentiles are over requests
answered 200; 429s (the batcher saturated: `max_pending`) are counted apart, with whether each
carried `Retry-After`; anything else is an error.

The server's result cache is off (`VEGUARD_CACHE_SIZE=0`) unless `--cache`: the clients cycle
through a fixed list of texts, so with the cache on, every level after the first pass through
the list measures cache hits, not the model. (Measured: v5 at 64 clients after the 1- and
16-client levels, 258 req/s and no 429 with the cache on; 43 req/s and 2,287 429s with it off.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VEGUARD = [sys.executable, "-m", "veguard.cli"]


def _env() -> dict:
    src = str(ROOT / "src")
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_key(db: str) -> str:
    """`veguard serve --init` then a client key, as the docs tell a user to."""
    init = subprocess.run([*VEGUARD, "serve", "--init", "--db", db], env=_env(),
                          capture_output=True, text=True, check=True)
    assert init.stdout.strip(), init.stderr
    out = subprocess.run([*VEGUARD, "queue", "keys", "create", "--role", "client",
                          "--name", "bench", "--db", db], env=_env(),
                         capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1].strip()


async def drive(port: int, token: str, concurrency: int, seconds: float,
                texts: list[str]) -> dict:
    import httpx

    latencies: list[float] = []
    errors, limited, retry_after = 0, 0, 0
    stop = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers,
                                 limits=limits, timeout=60) as client:

        async def user(k: int) -> None:
            nonlocal errors, limited, retry_after
            i = k
            while time.perf_counter() < stop:
                t = time.perf_counter()
                try:
                    r = await client.post("/v1/moderations",
                                          json={"input": texts[i % len(texts)]})
                except httpx.HTTPError:
                    errors += 1
                    continue
                if r.status_code == 200:
                    latencies.append(time.perf_counter() - t)
                elif r.status_code == 429:
                    limited += 1
                    retry_after += "retry-after" in r.headers
                    # A well-behaved client backs off; a short pause keeps the test bounded.
                    await asyncio.sleep(0.05)
                else:
                    errors += 1
                i += concurrency

        t0 = time.perf_counter()
        await asyncio.gather(*(user(k) for k in range(concurrency)))
        wall = time.perf_counter() - t0
    lat = np.array(latencies) * 1000

    def pct(q: float) -> float:
        return float(np.percentile(lat, q)) if len(lat) else float("nan")

    return {"concurrency": concurrency, "requests": len(lat), "errors": errors,
            "rejected_429": limited, "with_retry_after": retry_after,
            "rps": len(lat) / wall, "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
            "max_ms": float(lat.max()) if len(lat) else float("nan")}


def _wait_ready(port: int, proc: subprocess.Popen, timeout: float = 240) -> None:
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


def run_service_bench(model_dir: Path | None, quick: bool, texts: list[str],
                      clients: tuple[int, ...] = (1, 16, 64), with_off: bool = True,
                      seconds: float | None = None, cache: bool = False) -> dict:
    seconds = seconds or (3 if quick else 15)
    env = _env() if cache else {**_env(), "VEGUARD_CACHE_SIZE": "0"}
    out: dict = {"seconds_per_level": seconds, "runs": [], "result_cache": cache, "started_as": (
        "veguard serve --init; veguard queue keys create --role client; "
        + ("" if cache else "VEGUARD_CACHE_SIZE=0 ")
        + "veguard serve --db sqlite:///... --rate-limit-per-minute 0 [--no-batching]")}
    with tempfile.TemporaryDirectory(prefix="veguard-bench-serve-") as tmp:
        db = f"sqlite:///{tmp}/queue.db"
        token = client_key(db)
        for batching in (True, False) if with_off else (True,):
            port = _free_port()
            cmd = [*VEGUARD, "serve", "--db", db, "--port", str(port),
                   "--rate-limit-per-minute", "0"]
            if model_dir:
                cmd += ["--model", str(model_dir)]
            if not batching:
                cmd.append("--no-batching")
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
            try:
                _wait_ready(port, proc)
                asyncio.run(drive(port, token, 4, 2, texts))  # warm-up: every bucket shape
                for c in clients if batching else tuple(x for x in clients if x <= 16):
                    r = asyncio.run(drive(port, token, c, seconds, texts))
                    r["batching"] = batching
                    r["load_after"] = os.getloadavg()[0]
                    out["runs"].append(r)
                    print(f"service batching={'on ' if batching else 'off'} c={c:>2}: "
                          f"{r['rps']:7.1f} req/s  p50 {r['p50_ms']:7.1f}  p95 {r['p95_ms']:7.1f}"
                          f"  p99 {r['p99_ms']:7.1f} ms  429 {r['rejected_429']} "
                          f"(Retry-After {r['with_retry_after']})  errors {r['errors']}",
                          flush=True)
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--clients", default="1,16,64")
    p.add_argument("--no-off", action="store_true", help="skip the --no-batching server")
    p.add_argument("--texts", default=None, help="JSON workload file (bench/workloads.py)")
    p.add_argument("--mix", type=int, default=None, metavar="N",
                   help="send the queue-like mix of bench/cascade_mix.py instead: N corpus test "
                   "texts, 3%% of them violating (the default texts are all passed up and "
                   "flagged: a cascade's worst case)")
    p.add_argument("--cache", action="store_true",
                   help="keep the server's result cache on (default off: repeats would be hits)")
    args = p.parse_args(argv)
    if args.texts and args.mix:
        p.error("--texts and --mix are alternatives")
    if args.texts:
        texts = json.loads(Path(args.texts).read_text(encoding="utf-8"))["texts"]
    elif args.mix:
        from cascade_mix import mix

        texts = mix(args.mix, 0.03)[0]
    else:
        texts = [f"short post number {i}: they will pay for what they did" for i in range(500)]
    r = run_service_bench(Path(args.model) if args.model else None, False, texts,
                          tuple(int(x) for x in args.clients.split(",")), not args.no_off,
                          args.seconds, args.cache)
    print(json.dumps(r, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
