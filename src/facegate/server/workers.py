"""A bounded pool of inference workers, each with its own face engine.

dlib's networks keep internal buffers, so one engine must not run on two threads at once; dlib
releases the GIL while it computes, so one engine per thread runs in parallel. The pool starts
``workers`` threads, each building and loading one engine once. Requests are admitted up to
``workers + queue_size`` at a time; a request beyond that waits (asynchronously, holding no
thread) for a place. ``queue_timeout_s`` bounds the whole wait, for a place and then for a
worker to start the job: a request not started by then is withdrawn and fails with
:class:`ServiceBusyError` (503). So a burst queues, memory stays bounded, and no request waits
longer than configured.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol, TypeVar

from facegate.errors import ServiceBusyError
from facegate.imageio import ImageSource
from facegate.pipeline.calibration import Calibration
from facegate.types import DetectResult, VerifyResult

log = logging.getLogger(__name__)

T = TypeVar("T")


class ServerEngine(Protocol):
    """What the server needs from :class:`facegate.pipeline.engine.FaceEngine`."""

    @property
    def pack_id(self) -> str: ...

    @property
    def calibration(self) -> Calibration: ...

    def load(self) -> object: ...

    def detect(self, image: ImageSource) -> DetectResult: ...

    def analyze(self, image: ImageSource) -> DetectResult: ...

    def verify(
        self, a: ImageSource, b: ImageSource, *, operating_point: str | None = None
    ) -> VerifyResult: ...


Job = tuple[Callable[[ServerEngine], object], "Future[object]"]


class InferencePool:
    """``workers`` threads with one engine each, behind a bounded admission gate."""

    def __init__(
        self,
        factory: Callable[[], ServerEngine],
        workers: int,
        queue_size: int,
        queue_timeout_s: float,
    ) -> None:
        self._factory = factory
        self._primary = factory()  # pack id and calibration only; never runs inference
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._local = threading.local()
        self._gate = asyncio.Semaphore(workers + queue_size)
        self._timeout = queue_timeout_s
        self._loaded = 0
        self._failure: BaseException | None = None
        self._state = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"facegate-infer-{i}", daemon=True)
            for i in range(workers)
        ]
        self.waiting = 0
        self.admitted = 0

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=30)

    @property
    def ready(self) -> bool:
        """True once every worker has loaded its engine."""
        return self._loaded == len(self._threads)

    @property
    def failure(self) -> BaseException | None:
        return self._failure

    @property
    def workers(self) -> int:
        return len(self._threads)

    def _work(self) -> None:
        engine = self._factory()
        try:
            engine.load()
            with self._state:
                self._loaded += 1
        except Exception as exc:  # reported by /readyz and re-raised by every job
            log.exception("inference worker could not load its engine")
            self._failure = exc
        self._local.engine = engine
        while (job := self._jobs.get()) is not None:
            fn, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                if self._failure is not None:
                    raise self._failure
                future.set_result(fn(engine))
            except BaseException as exc:  # handed to the awaiting request
                future.set_exception(exc)

    async def run(self, fn: Callable[[ServerEngine], T]) -> T:
        """Run ``fn(engine)`` on a worker; queue if all are busy; 503 if it has not started
        within ``queue_timeout_s`` (waiting for a place and then for a worker)."""
        deadline = time.monotonic() + self._timeout
        self.waiting += 1
        try:
            await asyncio.wait_for(self._gate.acquire(), self._timeout)
        except TimeoutError as exc:
            raise self._busy() from exc
        finally:
            self.waiting -= 1
        self.admitted += 1
        try:
            future: Future[object] = Future()
            self._jobs.put((fn, future))
            result = await self._outcome(future, deadline)
            return result  # type: ignore[return-value]
        finally:
            self.admitted -= 1
            self._gate.release()

    async def _outcome(self, future: Future[object], deadline: float) -> object:
        """The job's result; withdrawn (503) if no worker started it before ``deadline``."""
        waiting = asyncio.wrap_future(future)
        try:
            done, _ = await asyncio.wait({waiting}, timeout=max(0.0, deadline - time.monotonic()))
        except asyncio.CancelledError:  # the client went away: drop the job if not started
            future.cancel()
            raise
        if not done and future.cancel():  # still queued: it never runs
            raise self._busy()
        return await waiting

    def _busy(self) -> ServiceBusyError:
        return ServiceBusyError(
            f"no inference worker became free within {self._timeout:g} s; retry later"
        )

    def analyzer(self) -> ThreadEngine:
        """An engine proxy for the gallery: it runs on whichever worker calls it."""
        return ThreadEngine(self._primary, self._local)


class ThreadEngine:
    """The gallery's ``FaceAnalyzer``: analysis on the calling worker's own engine."""

    def __init__(self, primary: ServerEngine, local: threading.local) -> None:
        self._primary = primary
        self._local = local

    @property
    def pack_id(self) -> str:
        return self._primary.pack_id

    @property
    def calibration(self) -> Calibration:
        return self._primary.calibration

    def analyze(self, image: ImageSource) -> DetectResult:
        engine: ServerEngine | None = getattr(self._local, "engine", None)
        if engine is None:
            raise RuntimeError("face analysis must run on an inference worker (pool.run)")
        return engine.analyze(image)
