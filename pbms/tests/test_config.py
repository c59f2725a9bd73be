"""Configuration: environment first, then odoo.conf with Odoo's option names."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbms import config


@pytest.fixture
def conf_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def write(text: str) -> Path:
        path = tmp_path / "odoo.conf"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("G2P_CONFIG", str(path))
        config.odoo_conf.cache_clear()
        return path

    for name in ("DATABASE_URL", "G2P_HTTP_PORT", "G2P_DATA_DIR", "G2P_WORKERS", "ODOO_RC"):
        monkeypatch.delenv(name, raising=False)
    yield write
    config.odoo_conf.cache_clear()


def test_db_options_build_a_database_url(conf_file) -> None:  # type: ignore[no-untyped-def]
    conf_file(
        "[options]\ndb_host = db.example.org\ndb_port = 6543\ndb_user = odoo\n"
        "db_password = s3cr@t\ndb_name = registry\n"
    )
    assert (
        config.external_database_url() == "postgresql://odoo:s3cr%40t@db.example.org:6543/registry"
    )


def test_false_db_host_means_embedded_server(conf_file) -> None:  # type: ignore[no-untyped-def]
    conf_file("[options]\ndb_host = False\ndb_user = odoo\n")
    assert config.external_database_url() is None


def test_environment_wins_over_odoo_conf(conf_file, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    conf_file("[options]\ndb_host = ignored\nhttp_port = 9000\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h:1/d")
    monkeypatch.setenv("G2P_HTTP_PORT", "8111")
    assert config.external_database_url() == "postgresql://u@h:1/d"
    assert config.http_port() == 8111


def test_http_port_and_workers_from_odoo_conf(conf_file) -> None:  # type: ignore[no-untyped-def]
    conf_file("[options]\nhttp_port = 9069\nworkers = 4\n")
    assert config.http_port() == 9069
    assert config.worker_count() == 4


def test_defaults_without_a_file(conf_file, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("G2P_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    config.odoo_conf.cache_clear()
    assert config.odoo_conf().path is None
    assert config.http_port() == 8069
    assert config.worker_count() == 2
    assert config.external_database_url() is None


def test_data_dir_from_environment(conf_file, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    conf_file("[options]\ndata_dir = /ignored\n")
    monkeypatch.setenv("G2P_DATA_DIR", str(tmp_path / "d"))
    assert config.data_dir() == (tmp_path / "d").resolve()


def test_missing_named_config_file_is_an_error(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("G2P_CONFIG", str(tmp_path / "nope.conf"))
    config.odoo_conf.cache_clear()
    with pytest.raises(FileNotFoundError, match="nope.conf"):
        config.odoo_conf()
    config.odoo_conf.cache_clear()


def test_secret_key_is_generated_once_and_kept(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("G2P_DATA_DIR", str(tmp_path))
    first = config.secret_key()
    assert len(first) >= 50
    assert config.secret_key() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
