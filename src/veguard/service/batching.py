"""In-server micro-batching: concurrent requests share one `classifier.score(list)` call.

Requests put their texts on a queue and await a future. One worker thread takes the first job,
keeps collecting for `window_s` or until `max_batch` texts, scores them in one call and hands
each request its slice. If a batch raises, each job is retried alone so only the request whose
input caused the error sees it. A request that waits longer than its timeout gets
`asyncio.TimeoutError` (the route answers 503), and the worker drops its result.

`direct_score` is the batching-off path (one call per request on a thread), kept here so both
paths share the result checks.

`Admission` bounds the texts waiting for (or in) the model, on both paths: past `max_pending`
texts, or past `max_wait_s` of backlog at the recently measured rate, a request is refused at
once with `Saturated`, which the route answers 429 with `Retry-After` (the time the backlog
takes to drain), so an overloaded server keeps its latency bounded instead of letting the
queue, and every client's wait, grow without end.

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


class Saturated(Exception):
    """The model's backlog is full; `retry_after` is the seconds it takes to drain."""

    def __init__(self, pending: int, retry_after: float):
        super().__init__(f"{pending} texts are waiting for the model; retry later")
        self.pending, self.retry_after = pending, retry_after


class Admission:
    """Counts texts admitted and not yet answered; refuses past `max_pending` texts or
    `max_wait_s` seconds of backlog at the measured rate (0: no such bound).

    One request is always admitted when nothing is pending, however large, so a request the
    schema allows can always be served. Thread-safe: the batcher thread records the rate.
    """

    def __init__(self, max_pending: int, max_wait_s: float = 0.0, rate_guess: float = 100.0):
        self.max_pending = max_pending
        self.max_wait_s = max_wait_s
        self.pending = 0
        self.rate = rate_guess  # texts/s, a moving average of recent model calls
        self._lock = threading.Lock()

    def enter(self, n: int) -> None:
        with self._lock:
            wait = (self.pending + n) / max(self.rate, 1e-3)
            if self.pending and (
                (self.max_pending and self.pending + n > self.max_pending)
                or (self.max_wait_s and wait > self.max_wait_s)
            ):
                raise Saturated(self.pending, wait)
            self.pending += n

    def leave(self, n: int) -> None:
        with self._lock:
            self.pending = max(0, self.pending - n)

    def observe(self, n: int, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self.rate = 0.8 * self.rate + 0.2 * (n / seconds)


def _checked(score: ScoreFn, texts: list[str]) -> list[ScoreResult]:
    results = score(list(texts))
    if not isinstance(results, list) or len(results) != len(texts):
        raise RuntimeError(f"classifier returned {type(results).__name__} for {len(texts)} texts")
    return results


def _timed(score: ScoreFn, texts: list[str], admission: Admission | None) -> list[ScoreResult]:
    t = time.perf_counter()
    results = _checked(score, texts)
    if admission is not None:
        admission.observe(len(texts), time.perf_counter() - t)
    return results


async def direct_score(score: ScoreFn, texts: list[str], timeout: float,
                       admission: Admission | None = None) -> list[ScoreResult]:
    if admission is None:
        return await asyncio.wait_for(asyncio.to_thread(_checked, score, texts), timeout)
    admission.enter(len(texts))
    try:
        return await asyncio.wait_for(asyncio.to_thread(_timed, score, texts, admission), timeout)
    finally:
        admission.leave(len(texts))


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
                 on_batch: Callable[[int], None] | None = None, max_pending: int = 0,
                 max_wait_s: float = 0.0):
        self.score_fn = score
        self.admission = Admission(max_pending, max_wait_s)
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
        self.admission.enter(len(job.texts))  # Saturated: refused before it queues
        try:
            self._queue.put(job)
            return await asyncio.wait_for(job.future, timeout)
        finally:
            # A timed-out job still reaches the model; its texts leave the count now all the
            # same, since the backlog it adds is one batch at most.
            self.admission.leave(len(job.texts))

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
            results = _timed(self.score_fn, texts, self.admission)
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
