"""Runtime configuration: environment variables first, then an Odoo-style ``odoo.conf``.

Integrators who run OpenG2P know Odoo's configuration file, so the same option names are read
from the ``[options]`` section (``db_host``, ``db_port``, ``db_user``, ``db_password``,
``db_name``, ``http_port``, ``workers``, ``admin_passwd``, ``data_dir``). The file is looked up in
``$G2P_CONFIG``, then ``$ODOO_RC``, then ``./odoo.conf``. Environment variables always win.

When neither ``DATABASE_URL`` nor ``db_host`` is given, the database is an embedded PostgreSQL
started from the ``pgserver`` wheel in ``$G2P_DATA_DIR`` (see :mod:`pbms.embedded_pg`).
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DEFAULT_HTTP_PORT = 8069


@dataclass(frozen=True)
class OdooConf:
    """The ``[options]`` of an ``odoo.conf`` file (only the options PBMS understands)."""

    path: Path | None
    options: dict[str, str]

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.options.get(name)
        # Odoo writes unset options as "False".
        if value is None or value.strip() in ("", "False", "None"):
            return default
        return value.strip()


def config_path() -> Path | None:
    for candidate in (os.environ.get("G2P_CONFIG"), os.environ.get("ODOO_RC")):
        if candidate:
            path = Path(candidate).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"configuration file {path} does not exist")
            return path
    local = Path.cwd() / "odoo.conf"
    return local if local.is_file() else None


@cache
def odoo_conf() -> OdooConf:
    path = config_path()
    if path is None:
        return OdooConf(path=None, options={})
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path, encoding="utf-8")
    options = dict(parser["options"]) if parser.has_section("options") else {}
    return OdooConf(path=path, options=options)


def data_dir() -> Path:
    """Folder for the embedded database and uploaded files."""
    value = os.environ.get("G2P_DATA_DIR") or odoo_conf().get("data_dir")
    if value:
        return Path(value).expanduser().resolve()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pbms"


def http_port() -> int:
    value = os.environ.get("G2P_HTTP_PORT") or odoo_conf().get("http_port")
    return int(value) if value else DEFAULT_HTTP_PORT


def worker_count() -> int:
    value = os.environ.get("G2P_WORKERS") or odoo_conf().get("workers")
    count = int(value) if value else 0
    # Odoo's workers=0 means "threaded single process"; we always run at least two web workers.
    return max(count, 2)


def external_database_url() -> str | None:
    """The configured database as a URL, or ``None`` when the embedded server should be used."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    conf = odoo_conf()
    host = conf.get("db_host")
    if not host:
        return None
    from urllib.parse import quote

    user = quote(conf.get("db_user", "odoo") or "odoo")
    password = conf.get("db_password")
    auth = f"{user}:{quote(password)}" if password else user
    port = conf.get("db_port", "5432")
    name = conf.get("db_name", "pbms")
    return f"postgresql://{auth}@{host}:{port}/{name}"


def secret_key() -> str:
    """``SECRET_KEY`` for deployments that set none: generated once and kept in the data folder."""
    import secrets

    folder = data_dir()
    path = folder / "secret_key"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of this server wrote it first
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key
