"""A throwaway PostgreSQL cluster for the tests and benchmarks: initdb in a temporary folder,
pg_ctl on a free loopback port, stopped (and the folder removed) at the end.

Debian's ``postgresql`` package (``make postgres`` installs it) puts ``initdb`` and ``pg_ctl``
under ``/usr/lib/postgresql/<major>/bin``; ``FACEGATE_PG_BIN`` names another folder. initdb
refuses to run as root, so as root the cluster runs as the unprivileged ``postgres`` user that
the package creates (``runuser``). Authentication is ``trust`` on 127.0.0.1 only: the cluster
lives as long as one test run and holds only test data.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "facegate"


class ClusterUnavailable(RuntimeError):
    """PostgreSQL's server binaries are not installed, or cannot run here."""


def find_bin() -> Path:
    """The folder holding initdb and pg_ctl (the newest Debian major version first)."""
    given = os.environ.get("FACEGATE_PG_BIN")
    candidates = [Path(given)] if given else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise ClusterUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's postgresql "
        "package ('make postgres') or set FACEGATE_PG_BIN"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as when this process is root, else None."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ClusterUnavailable("running as root and no 'postgres' user to run PostgreSQL as")


@dataclass(frozen=True, slots=True)
class Cluster:
    """A running throwaway cluster; :meth:`url` names one of its databases."""

    port: int
    root: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:16]}"
        dsn = f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _command(user: pwd.struct_passwd | None, argv: list[str]) -> list[str]:
    return ["runuser", "-u", user.pw_name, "--", *argv] if user is not None else argv


def _call(user: pwd.struct_passwd | None, argv: list[str], what: str) -> None:
    done = subprocess.run(
        _command(user, argv), capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise ClusterUnavailable(f"{what} failed: {(done.stderr or done.stdout).strip()[-400:]}")


def _start(
    binaries: Path, user: pwd.struct_passwd | None, data: Path, sockets: Path, durable: bool
) -> int:
    """Start the server on a free port (another process may take the port first: retry)."""
    for attempt in range(3):
        port = _free_port()
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        try:
            _call(
                user,
                [str(binaries / "pg_ctl"), "-D", str(data), "-l", str(data.parent / "server.log"),
                 "-o", options, "-w", "-t", "60", "start"],
                "pg_ctl start",
            )  # fmt: skip
            return port
        except ClusterUnavailable:
            if attempt == 2:
                raise
    raise ClusterUnavailable("pg_ctl start failed")  # pragma: no cover


@contextmanager
def running_cluster(durable: bool = False) -> Iterator[Cluster]:
    """Start a cluster in a temporary folder; stop it and remove the folder on exit.

    Not ``durable`` (tests): no fsync, no synchronous commit. ``durable`` (benchmarks):
    PostgreSQL's defaults, every commit flushed to disk like the SQLite store's.
    """
    binaries = find_bin()
    user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="facegate-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if user is not None:
        for path in (root, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
    started, guard = False, None
    try:
        _call(
            user,
            [str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            "initdb",
        )  # fmt: skip
        port = _start(binaries, user, data, sockets, durable)
        started = True
        stop = _command(
            user, [str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
        )
        guard = _watchdog(stop, root)
        yield Cluster(port, root)
    finally:
        if started:
            subprocess.run(stop, capture_output=True, timeout=60, check=False)
            if guard is not None and guard.stdin is not None:
                guard.stdin.close()
                guard.wait(timeout=60)
        shutil.rmtree(root, ignore_errors=True)


_WATCHDOG = """
import shutil, subprocess, sys
sys.stdin.read()  # returns when the test run ends, however it ends (even SIGKILL)
subprocess.run(sys.argv[2:], capture_output=True, timeout=60, check=False)
shutil.rmtree(sys.argv[1], ignore_errors=True)
"""


def _watchdog(stop: list[str], root: Path) -> subprocess.Popen[bytes] | None:
    """A small process that stops the cluster when this one goes away without doing it (a
    test run killed by a timeout or SIGKILL): it waits for the end of a pipe from here."""
    try:
        return subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(root), *stop],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C of the test run does not end it first
        )
    except OSError:
        return None
