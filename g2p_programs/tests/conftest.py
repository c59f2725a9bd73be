"""Fixtures of the programs tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection


@pytest.fixture
def small_jobs(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    settings.G2P_MAX_ROWS_INLINE = 50
    settings.G2P_JOB_CHUNK_SIZE = 300
    monkeypatch.delenv("G2P_JOB_CHUNK_SIZE", raising=False)
    monkeypatch.delenv("G2P_JOB_CHUNK_DELAY_MS", raising=False)
    # the worker thread's connection closes after each job instead of lingering
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    # procrastinate's tables are not Django-managed, so the test flush leaves them alone
    _delete_program_jobs()
    yield
    _delete_program_jobs()


def _delete_program_jobs() -> None:
    from g2p_programs.tests.test_jobs import delete_program_jobs

    delete_program_jobs()
