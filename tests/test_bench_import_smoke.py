"""The import benchmark runs end to end at a small size and reports correct table counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def test_import_benchmark_small_run_reports_exact_counts() -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.registry_import", "--households", "40", "--members", "3"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["counts"] == {
        "registrants": 160,
        "ids": 160,
        "phones": 160,
        "memberships": 120,
        "heads": 40,
    }
    first, second = summary["runs"]
    assert (first["label"], first["created"], first["updated"]) == ("import", 160, 0)
    assert (second["label"], second["created"], second["updated"]) == ("re-import", 0, 160)
