"""Service load benchmark: ``POST /v1/identify`` on loopback against the engine in-process.

A bounded run: a real ``facegate serve`` process (``--workers`` inference threads) on a free
loopback port, a gallery of LFW people enrolled over HTTP (one photo each), then
``--concurrency`` clients sending real photos (other photos of enrolled people, and strangers)
for ``--duration`` seconds. It reports requests/s, p50/p99 latency, errors by status, and the
server's RSS sampled every second. In the same run, before and after the load, it measures the
engine in-process on the same photos: ``FaceEngine.analyze`` (what identify spends its time on)
on one thread, and on ``--workers`` threads with one engine each (what the server runs). The
ratio that matters is service requests/s over in-process images/s at the same worker count.
Writes JSON to ``--out``. Run:

    .venv/bin/python bench/load.py --duration 60 --concurrency 4 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
LFW = REPO.parent / "shared" / "data" / "lfw"
PURPOSE = "door"


def photo_sets(people: int) -> tuple[list[tuple[str, Path]], list[Path]]:
    """(name, enrolment photo) for ``people`` LFW people with 2+ photos; probe photos."""
    multi = sorted(d for d in LFW.iterdir() if d.is_dir() and len(list(d.glob("*.jpg"))) >= 2)
    singles = sorted(d for d in LFW.iterdir() if d.is_dir() and len(list(d.glob("*.jpg"))) == 1)
    step = max(1, len(multi) // people)
    chosen = multi[::step][:people]
    enrol = [(d.name, sorted(d.glob("*.jpg"))[0]) for d in chosen]
    probes = [sorted(d.glob("*.jpg"))[1] for d in chosen]
    probes += [next(d.glob("*.jpg")) for d in singles[:: max(1, len(singles) // people)][:people]]
    return enrol, probes


def engine_rate(photos: list[bytes], threads: int, seconds: float) -> float:
    """Images/s of ``FaceEngine.analyze`` on ``threads`` threads, one engine each."""
    from facegate.config import Settings
    from facegate.pipeline.engine import FaceEngine

    settings = Settings()
    engines = [
        FaceEngine(settings.engine, settings.image, home=settings.home).load()
        for _ in range(threads)
    ]
    for engine in engines:
        engine.analyze(photos[0])  # warm up
    done = [0] * threads
    stop = time.perf_counter() + seconds

    def work(i: int) -> None:
        n = i
        while time.perf_counter() < stop:
            engines[i].analyze(photos[n % len(photos)])
            n += threads
            done[i] += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(done) / (time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(data: Path, workers: int) -> tuple[subprocess.Popen[str], str, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "facegate", "serve", "--port", str(port)]
    cmd += ["--workers", str(workers), "--data", str(data)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.stdout is None:
        raise RuntimeError("no stdout from facegate serve")
    key = ""
    while not key:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("facegate serve exited before printing its admin key")
        if line.startswith("admin API key"):
            key = line.rsplit(" ", 1)[1].strip()
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return proc, base, key
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("facegate serve did not become ready")


def enrol(http: httpx.Client, people: list[tuple[str, Path]]) -> int:
    enrolled = 0
    for name, photo in people:
        sid = http.post("/v1/subjects", json={"display_name": name}).json()["subject_id"]
        consent = {"purpose": PURPOSE, "evidence": "benchmark: synthetic consent record"}
        http.post(f"/v1/subjects/{sid}/consents", json=consent).raise_for_status()
        r = http.post(
            f"/v1/subjects/{sid}/faces",
            data={"purpose": PURPOSE},
            files={"image": (photo.name, photo.read_bytes(), "image/jpeg")},
        )
        enrolled += r.status_code == 200
    return enrolled


def load(
    base: str, key: str, pid: int, photos: list[bytes], concurrency: int, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    rss: list[tuple[float, float]] = []
    lock = threading.Lock()
    started = time.perf_counter()
    stop = started + seconds

    def client(i: int) -> None:
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=auth, timeout=120) as http:
            n = i
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                try:
                    r = http.post(
                        "/v1/identify",
                        data={"purpose": PURPOSE, "top_k": "1"},
                        files={"image": ("probe.jpg", photos[n % len(photos)], "image/jpeg")},
                    )
                    status = str(r.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    statuses[status] += 1
                n += concurrency

    def sample() -> None:
        while time.perf_counter() < stop:
            rss.append((round(time.perf_counter() - started, 1), round(rss_mib(pid), 1)))
            time.sleep(1.0)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    threads.append(threading.Thread(target=sample))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    ok = statuses.get("200", 0)
    lat = np.array(latencies) * 1000
    mem = [m for _, m in rss]
    half = len(mem) // 2
    return {
        "requests": len(latencies),
        "ok": ok,
        "errors": {k: v for k, v in statuses.items() if k != "200"},
        "requests_per_s": round(ok / elapsed, 3),
        "latency_ms": {
            "p50": round(float(np.percentile(lat, 50)), 1),
            "p99": round(float(np.percentile(lat, 99)), 1),
            "max": round(float(lat.max()), 1),
        },
        "rss_mib": {
            "first": mem[0],
            "last": mem[-1],
            "max": max(mem),
            "mean_first_half": round(float(np.mean(mem[:half] or mem)), 1),
            "mean_second_half": round(float(np.mean(mem[half:])), 1),
            "samples": rss,
        },
    }


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds of load.")
    parser.add_argument("--concurrency", type=int, default=4, help="Concurrent clients.")
    parser.add_argument("--workers", type=int, default=2, help="Server inference workers.")
    parser.add_argument("--people", type=int, default=20, help="LFW people enrolled.")
    parser.add_argument("--baseline", type=float, default=20.0, help="Seconds per engine run.")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "load.json")
    parser.add_argument("--pack", default=None, help="model pack (default: FACEGATE_ENGINE__PACK)")
    parser.add_argument(
        "--photo", type=Path, default=None, help="Send only this photo (default: LFW probes)."
    )
    args = parser.parse_args()
    if args.pack is not None:  # the engine here and the server process read it from the env
        os.environ["FACEGATE_ENGINE__PACK"] = args.pack
    if not LFW.is_dir():
        sys.exit(f"LFW not found at {LFW}")
    people, probe_paths = photo_sets(args.people)
    probes = [p.read_bytes() for p in ([args.photo] if args.photo else probe_paths)]
    result: dict[str, Any] = {
        "command": "python bench/load.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "settings": {k: str(v) for k, v in vars(args).items() if k != "out"},
        "probes": len(probes),
        "pack": os.environ.get("FACEGATE_ENGINE__PACK", "dlib"),
    }
    print(f"engine in-process, 1 and {args.workers} thread(s), {args.baseline:.0f} s each ...")
    before = {
        "1": engine_rate(probes, 1, args.baseline),
        str(args.workers): engine_rate(probes, args.workers, args.baseline),
    }
    with tempfile.TemporaryDirectory(prefix="facegate-load-") as tmp:
        proc, base, key = start_server(Path(tmp) / "data", args.workers)
        try:
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120
            ) as http:
                result["enrolled"] = enrol(http, people)
            print(f"service: {args.concurrency} clients for {args.duration:.0f} s ...")
            result["service"] = load(base, key, proc.pid, probes, args.concurrency, args.duration)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    after = {str(args.workers): engine_rate(probes, args.workers, args.baseline)}
    same = (before[str(args.workers)] + after[str(args.workers)]) / 2
    result["engine_images_per_s"] = {
        "one_thread": round(before["1"], 3),
        f"{args.workers}_threads_before": round(before[str(args.workers)], 3),
        f"{args.workers}_threads_after": round(after[str(args.workers)], 3),
        f"{args.workers}_threads_mean": round(same, 3),
    }
    result["service_over_engine"] = round(result["service"]["requests_per_s"] / same, 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    service = result["service"]
    print(
        f"service {service['requests_per_s']:.2f} req/s, p50 {service['latency_ms']['p50']} ms, "
        f"p99 {service['latency_ms']['p99']} ms, errors {service['errors']}; engine "
        f"{same:.2f} img/s on {args.workers} threads -> {result['service_over_engine']:.0%}; "
        f"RSS {service['rss_mib']['first']} -> {service['rss_mib']['last']} MiB"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
