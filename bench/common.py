"""What the benchmarks share: their own database, a worker, memory readings, timing."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def setup_database(suffix: str, *, keep: bool = False) -> str:
    """Point Django at a fresh database ``<configured name>_<suffix>`` next to the configured
    one (dropped and recreated unless ``keep``), migrate it, and return its name."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pbms.settings")
    import django
    from django.conf import settings

    django.setup()
    import psycopg
    from psycopg import sql

    db = settings.DATABASES["default"]
    name = f"{db['NAME']}_{suffix}"
    with psycopg.connect(**server_params(), dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not keep:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    db["NAME"] = name  # before any connection is opened: the wrapper reads this dict
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    return name


def server_params() -> dict[str, Any]:
    """psycopg connection parameters of the configured PostgreSQL server (no database)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    params = {
        "host": db["HOST"] or None,
        "port": db["PORT"] or None,
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
    }
    return {k: v for k, v in params.items() if v is not None}


def database_url() -> str:
    """A ``DATABASE_URL`` for child processes (web server) reaching the benchmark database."""
    from urllib.parse import quote

    from django.conf import settings

    db = settings.DATABASES["default"]
    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    host = db["HOST"] or "localhost"
    if host.startswith("/"):
        return f"postgresql://{auth}@/{db['NAME']}?host={quote(host)}&port={db['PORT'] or 5432}"
    return f"postgresql://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def run_worker(queues: list[str]) -> None:
    """A real procrastinate worker (psycopg connector) in this process until ``queues`` are
    empty: the code ``g2p worker`` runs, without the wait for new jobs."""
    from procrastinate.contrib.django import app

    connector = app.connector.get_worker_connector()  # type: ignore[attr-defined]
    with app.replace_connector(connector) as worker_app:
        worker_app.run_worker(
            queues=queues, wait=False, install_signal_handlers=False, listen_notify=False
        )


# --- memory ------------------------------------------------------------------------------------


def _status(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    except (OSError, ValueError):
        return None
    return None


def peak_rss_mb(pid: int) -> float | None:
    """The peak resident set (``VmHWM``) of process ``pid`` in MB, None when unreadable."""
    kb = _status(pid, "VmHWM")
    return None if kb is None else kb / 1024


def reset_peak(pid: int) -> bool:
    """Restart the peak-RSS reading of ``pid`` from its current size (Linux ``clear_refs``)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def backend_pids() -> list[int]:
    """PostgreSQL server processes serving the benchmark database (any client)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend'"
        )
        return [int(r[0]) for r in cursor.fetchall()]


class MemoryWatch:
    """Peak RSS over a stage of this process and of the database's server processes."""

    def __init__(self) -> None:
        self.watched: list[int] = []

    def start(self) -> None:
        self.watched = [os.getpid(), *backend_pids()]
        for pid in self.watched:
            reset_peak(pid)

    def stop(self) -> dict[str, float]:
        me = os.getpid()
        pids = set(self.watched) | set(backend_pids())
        readings = {pid: peak_rss_mb(pid) for pid in pids}
        app = readings.pop(me, None) or 0.0
        db = max((v for v in readings.values() if v is not None), default=0.0)
        return {"app_mb": round(app), "db_mb": round(db)}


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    started = time.perf_counter()
    finished: list[float] = []

    def elapsed() -> float:
        return finished[0] if finished else time.perf_counter() - started

    try:
        yield elapsed
    finally:
        finished.append(time.perf_counter() - started)
