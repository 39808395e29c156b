"""In-server micro-batching: concurrent requests share one `classifier.score(list)` call.

Requests put their texts on a queue and await a future. One worker thread takes the first job,
keeps collecting for `window_s` or until `max_batch` texts, scores them in one call and hands
each request its slice. If a batch raises, each job is retried alone so only the request whose
input caused the error sees it. A request that waits longer than its timeout gets
`asyncio.TimeoutError` (the route answers 503), and the worker drops its result.

`direct_score` is the batching-off path (one call per request on a thread), kept here so both
paths share the result checks.

What it leaves out: priorities between requests and multiple workers; scoring is CPU-bound and
one model call at a time is what the machine can do anyway.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from veguard.result import ScoreResult

ScoreFn = Callable[[list[str]], list[ScoreResult]]


def _checked(score: ScoreFn, texts: list[str]) -> list[ScoreResult]:
    results = score(list(texts))
    if not isinstance(results, list) or len(results) != len(texts):
        raise RuntimeError(f"classifier returned {type(results).__name__} for {len(texts)} texts")
    return results


async def direct_score(score: ScoreFn, texts: list[str], timeout: float) -> list[ScoreResult]:
    return await asyncio.wait_for(asyncio.to_thread(_checked, score, texts), timeout)


@dataclass
class _Job:
    texts: list[str]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future


def _settle(future: asyncio.Future, value=None, error: BaseException | None = None) -> None:
    # Runs on the event loop. The request may have timed out and cancelled its future.
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def _deliver(job: _Job, value, error: BaseException | None) -> None:
    try:
        job.loop.call_soon_threadsafe(_settle, job.future, value, error)
    except RuntimeError:  # the request's event loop has closed: nobody is waiting
        pass


class MicroBatcher:
    def __init__(self, score: ScoreFn, window_s: float = 0.005, max_batch: int = 64,
                 on_batch: Callable[[int], None] | None = None):
        self.score_fn = score
        self.window_s = window_s
        self.max_batch = max_batch
        self.on_batch = on_batch  # called with each batch's size (metrics)
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def start(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="veguard-batcher",
                                                daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
        self._thread = None

    async def score(self, texts: list[str], timeout: float) -> list[ScoreResult]:
        self.start()
        loop = asyncio.get_running_loop()
        job = _Job(list(texts), loop, loop.create_future())
        self._queue.put(job)
        return await asyncio.wait_for(job.future, timeout)

    def _run(self) -> None:
        carry: _Job | None = None
        while True:
            first = carry if carry is not None else self._queue.get()
            carry = None
            if first is None:
                return
            batch, n, stopping = [first], len(first.texts), False
            deadline = time.monotonic() + self.window_s
            while n < self.max_batch:
                remaining = deadline - time.monotonic()
                try:
                    nxt = (
                        self._queue.get(timeout=remaining)
                        if remaining > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                if n + len(nxt.texts) > self.max_batch:
                    carry = nxt  # starts the next batch
                    break
                batch.append(nxt)
                n += len(nxt.texts)
            self._process(batch)
            if stopping:
                return

    def _process(self, batch: list[_Job]) -> None:
        texts = [t for job in batch for t in job.texts]
        try:
            results = _checked(self.score_fn, texts)
        except Exception as e:  # noqa: BLE001 - handed to the waiting request(s)
            if len(batch) == 1:
                _deliver(batch[0], None, e)
            else:
                for job in batch:  # find the job whose input fails; the others succeed
                    self._process([job])
            return
        if self.on_batch:
            self.on_batch(len(texts))
        i = 0
        for job in batch:
            part = results[i : i + len(job.texts)]
            i += len(job.texts)
            _deliver(job, part, None)
