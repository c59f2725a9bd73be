"""README command 1, end to end: ``g2p serve --demo`` on a machine with no database server.

Starts the real command in a subprocess with no ``DATABASE_URL`` (so the embedded PostgreSQL
from the pgserver wheel is created in a fresh data folder), waits for the printed login, logs
in to the back office over HTTP with it, then stops the server with Ctrl+C (SIGINT) and checks
that the web server, the worker and the embedded database all stopped.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Output:
    """Collects a process's output lines on a thread so reads never block the test."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(proc,), daemon=True)
        self._thread.start()

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = regex.search(line)
                if match:
                    return match
            time.sleep(0.2)
        raise AssertionError(
            f"no line matching {pattern!r} within {timeout}s:\n" + "".join(self.lines[-60:])
        )


def _login(port: int, username: str, password: str) -> tuple[urllib.request.OpenerDirector, str]:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://127.0.0.1:{port}"
    page = opener.open(f"{base}/admin/login/?next=/admin/", timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, "login page has no CSRF token"
    data = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token.group(1),
            "username": username,
            "password": password,
            "next": "/admin/",
        }
    ).encode()
    request = urllib.request.Request(
        f"{base}/admin/login/?next=/admin/", data=data, headers={"Referer": base}
    )
    response = opener.open(request, timeout=30)
    return opener, response.geturl()


def test_serve_demo_with_embedded_database_and_printed_login() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="g2p-serve-test-"))
    work_dir = Path(tempfile.mkdtemp(prefix="g2p-serve-cwd-"))
    port = _free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "G2P_CONFIG", "ODOO_RC")
    }
    env.update(G2P_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pbms.cli",
            "serve",
            "--demo",
            "--demo-size",
            "200",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
        ],
        cwd=work_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = _Output(proc)
    try:
        match = output.wait_for(r"login '(\w+)' and password '(\w+)'", timeout=240)
        assert match.groups() == ("admin", "admin")
        assert (data_dir / "pgdata" / "PG_VERSION").is_file()

        health = json.loads(
            urllib.request.urlopen(f"http://127.0.0.1:{port}/web/health", timeout=10).read()
        )
        assert health["status"] == "ok"

        opener, landed = _login(port, "admin", "admin")
        assert landed == f"http://127.0.0.1:{port}/admin/"
        listing = (
            opener.open(f"http://127.0.0.1:{port}/admin/g2p_registry_base/individual/", timeout=30)
            .read()
            .decode()
        )
        assert "Individuals" in listing
        assert "200 individuals" in listing
        # The first page of the demo registry: 50 individuals linked to their forms.
        assert (
            len(set(re.findall(r"/admin/g2p_registry_base/individual/(\d+)/change/", listing)))
            == 50
        )

        # The demo program is ready, and its program manager can log in and see it.
        assert any(
            "Demo program 'Household Cash Support' ready; role logins manager, approver, "
            "finance (password 'demo')." in line
            for line in output.lines
        )
        manager, _landed = _login(port, "manager", "demo")
        programs = (
            manager.open(f"http://127.0.0.1:{port}/admin/g2p_programs/program/", timeout=30)
            .read()
            .decode()
        )
        assert "Household Cash Support" in programs

        # A wrong password is refused and lands back on the login page.
        _opener, refused = _login(port, "admin", "wrong")
        assert refused.startswith(f"http://127.0.0.1:{port}/admin/login/")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, "".join(output.lines[-40:])
    # Embedded PostgreSQL stopped with the last process holding it.
    deadline = time.monotonic() + 30
    while (data_dir / "pgdata" / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.rmtree(work_dir, ignore_errors=True)
