"""The inference pool: one engine per worker, loaded once; a burst queues, overflow gets 503."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest
from server_fakes import FakeEngine

from facegate.errors import ServiceBusyError
from facegate.server.workers import InferencePool, ServerEngine


def _wait_ready(pool: InferencePool) -> None:
    deadline = time.monotonic() + 5
    while not pool.ready and time.monotonic() < deadline:
        time.sleep(0.005)
    assert pool.ready


def test_engines_built_once_per_worker_and_burst_queues() -> None:
    made: list[FakeEngine] = []

    def factory() -> FakeEngine:
        made.append(FakeEngine())
        return made[-1]

    async def burst() -> list[str]:
        pool = InferencePool(factory, workers=2, queue_size=50, queue_timeout_s=5)
        pool.start()
        _wait_ready(pool)

        def job(engine: ServerEngine) -> str:
            time.sleep(0.01)
            return threading.current_thread().name

        try:
            return await asyncio.gather(*(pool.run(job) for _ in range(40)))
        finally:
            pool.close()

    names = asyncio.run(burst())
    assert len(names) == 40 and set(names) == {"facegate-infer-0", "facegate-infer-1"}
    assert len(made) == 3  # one per worker, plus the primary that never runs inference
    assert [e.loads for e in made] == [0, 1, 1]


def test_overflow_gets_service_busy() -> None:
    release = threading.Event()

    async def overflow() -> list[object]:
        pool = InferencePool(FakeEngine, workers=1, queue_size=1, queue_timeout_s=0.2)
        pool.start()
        _wait_ready(pool)

        def slow(engine: ServerEngine) -> str:
            release.wait(5)
            return "done"

        tasks = [asyncio.create_task(pool.run(slow)) for _ in range(3)]
        await asyncio.sleep(0.4)  # the queued job and the one refused a place have given up
        assert pool.waiting == 0 and pool.admitted == 1
        release.set()
        try:
            return await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            pool.close()

    results = asyncio.run(overflow())
    assert results.count("done") == 1
    assert sum(isinstance(r, ServiceBusyError) for r in results) == 2


def test_queued_job_waits_at_most_queue_timeout() -> None:
    """A job admitted to the queue but not started by a worker in time is withdrawn (503) and
    never runs; the running job is not interrupted. (The worker is released only after the
    outcome is known, or after 30 s, so a job that waited on would come back "done".)"""
    release = threading.Event()
    ran: list[str] = []

    async def scenario() -> tuple[object, object]:
        pool = InferencePool(FakeEngine, workers=1, queue_size=8, queue_timeout_s=0.5)
        pool.start()
        _wait_ready(pool)

        def job(name: str) -> Callable[[ServerEngine], str]:
            def run(engine: ServerEngine) -> str:
                ran.append(name)
                release.wait(30)
                return name

            return run

        first = asyncio.create_task(pool.run(job("first")))
        await asyncio.sleep(0.05)
        try:
            second: object = await pool.run(job("second"))
        except ServiceBusyError as exc:
            second = exc
        finally:
            release.set()
        try:
            return await first, second
        finally:
            pool.close()

    first, second = asyncio.run(scenario())
    assert first == "first"
    assert isinstance(second, ServiceBusyError), second
    assert "within 0.5 s" in str(second)
    assert ran == ["first"]


def test_worker_load_failure_is_reported() -> None:
    class Broken(FakeEngine):
        def load(self) -> FakeEngine:
            raise OSError("model file unreadable")

    async def run() -> None:
        pool = InferencePool(Broken, workers=1, queue_size=0, queue_timeout_s=1)
        pool.start()
        try:
            with pytest.raises(OSError, match="unreadable"):
                await pool.run(lambda engine: engine.pack_id)
            assert not pool.ready and isinstance(pool.failure, OSError)
        finally:
            pool.close()

    asyncio.run(run())
