"""Embedded PostgreSQL for machines with no database server.

``pgserver`` ships PostgreSQL binaries in a wheel. The server lives in ``<data_dir>/pgdata`` and
listens on a Unix socket only. ``pgserver`` counts the processes holding a handle: the server is
started by the first and stopped when the last one exits, so ``g2p serve`` (web + worker) and a
``g2p shell`` opened beside it share one server safely.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

DATABASE_NAME = "pbms"
_server: Any = None


def start(data_dir: Path, *, database: str = DATABASE_NAME) -> dict[str, str]:
    """Start (or join) the embedded server and make sure ``database`` exists.

    Returns:
        Connection parameters for Django: ``HOST`` (socket folder), ``USER`` and ``NAME``.
    """
    global _server
    if _server is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

        pgdata = data_dir / "pgdata"
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        logger.info("starting embedded PostgreSQL in %s", pgdata)
        _server = pgserver.get_server(pgdata, cleanup_mode="stop")
    params = psycopg.conninfo.conninfo_to_dict(_server.get_uri())
    host = str(params.get("host") or "")
    user = str(params.get("user") or "postgres")
    with psycopg.connect(host=host, user=user, dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return {"HOST": host, "USER": user, "NAME": database, "PORT": str(params.get("port") or "")}


def url(params: dict[str, str]) -> str:
    """A libpq URL for the embedded server, for child processes (``DATABASE_URL``)."""
    from urllib.parse import quote

    port = f"&port={params['PORT']}" if params.get("PORT") else ""
    return f"postgresql://{params['USER']}@/{params['NAME']}?host={quote(params['HOST'])}{port}"
