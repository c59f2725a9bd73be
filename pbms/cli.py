"""The ``g2p`` command.

``g2p serve`` migrates and serves the back office with gunicorn plus a background worker,
``g2p worker`` runs a worker alone, ``g2p demo`` loads demo data, ``g2p import FILE`` imports a
registry file; any other word is handed to Django's management commands (``g2p migrate``,
``g2p shell``, ``g2p createsuperuser``, …).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Any

OWN_COMMANDS = ("serve", "worker", "demo", "import")


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pbms.settings")
    import django

    django.setup()


def _database_url_for_children() -> str:
    """The URL child processes use, so they join this process's database (embedded or not)."""
    from django.conf import settings

    from pbms import config, embedded_pg

    url = config.external_database_url()
    if url:
        return url
    db = settings.DATABASES["default"]
    return embedded_pg.url({key: str(db[key]) for key in ("USER", "NAME", "HOST", "PORT")})


def _demo_programs() -> None:
    """The demo program and its role users, once (see :mod:`g2p_programs.demo`)."""
    from g2p_programs import demo as program_demo

    program = program_demo.demo_programs_load()
    if program is not None:
        logins = ", ".join(name for name, _ in program_demo.DEMO_USERS)
        print(
            f"Demo program '{program.name}' ready; role logins {logins} "
            f"(password '{program_demo.DEMO_PASSWORD}').",
            flush=True,
        )


def _ensure_login(*, demo: bool) -> tuple[str, str | None]:
    """Make sure an administrator can log in. Returns (login, password to print or None)."""
    from django.contrib.auth import get_user_model

    from pbms import config

    User = get_user_model()
    if demo:
        user, _ = User.objects.get_or_create(
            username="admin", defaults={"email": "admin@example.org"}
        )
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password("admin")
        user.save()
        return "admin", "admin"
    if User.objects.filter(is_superuser=True).exists():
        return "admin", None
    password = config.odoo_conf().get("admin_passwd") or secrets.token_urlsafe(12)
    User.objects.create_superuser("admin", "admin@example.org", password)
    return "admin", password


def _wait_healthy(port: int, *, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/web/health", timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def cmd_serve(args: argparse.Namespace) -> int:
    _setup_django()
    from django.core.management import call_command

    from pbms import config

    port = args.port or config.http_port()
    call_command("migrate", interactive=False, verbosity=0)
    if args.demo:
        from g2p_registry_base import demo

        created = demo.demo_load(individuals=args.demo_size)
        if created:
            print(f"Loaded demo data: {created} individuals.", flush=True)
        _demo_programs()
    login, password = _ensure_login(demo=args.demo)

    env = dict(
        os.environ,
        DATABASE_URL=_database_url_for_children(),
        DJANGO_SETTINGS_MODULE="pbms.settings",
    )
    workers = args.workers or config.worker_count()
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "pbms.wsgi:application",
            "--bind",
            f"{args.bind}:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "300",
            "--graceful-timeout",
            "20",
            "--access-logfile",
            "-",
        ],
        env=env,
    )
    children = [web]
    if not args.no_worker:
        children.append(subprocess.Popen([sys.executable, "-m", "pbms.cli", "worker"], env=env))

    def stop(*_: Any) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if _wait_healthy(port):
            print("", flush=True)
            print(f"PBMS is running on http://localhost:{port}/", flush=True)
            if password:
                print(
                    f"Log in at http://localhost:{port}/admin/ "
                    f"with login '{login}' and password '{password}'.",
                    flush=True,
                )
            print("Press Ctrl+C to stop.", flush=True)
        else:
            print(
                "The web server did not become healthy within 60 seconds.",
                file=sys.stderr,
                flush=True,
            )
            stop()
        # Run until any child exits, then stop the others.
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        stop()
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
    return 0 if all(child.returncode in (0, -signal.SIGTERM) for child in children) else 1


def cmd_worker(args: argparse.Namespace) -> int:
    _setup_django()
    from django.core.management import call_command

    extra = ["--concurrency", str(args.concurrency)] if args.concurrency else []
    call_command("procrastinate", "worker", *extra)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    _setup_django()
    from django.core.management import call_command

    from g2p_registry_base import demo

    call_command("migrate", interactive=False, verbosity=0)
    created = demo.demo_load(individuals=args.size, force=args.force)
    _demo_programs()
    login, password = _ensure_login(demo=True)
    print(f"Demo data: {created} individuals created. Log in as '{login}' / '{password}'.")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    _setup_django()
    from pathlib import Path

    from g2p_registry_base import imports

    path = Path(args.file)
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return 2
    result = imports.registry_import_file(
        path=path, mode=args.mode, dry_run=args.dry_run, actor=None, source="g2p import"
    )
    print(imports.report_text(result))
    if args.report:
        imports.write_error_report(result, Path(args.report))
        print(f"Error report written to {args.report}")
    return 0 if result.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="g2p", description="OpenG2P Program & Beneficiary Management System"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser(
        "serve", help="migrate, then serve the web application and a background worker"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=None,
        help="HTTP port (default: http_port of odoo.conf, or 8069)",
    )
    serve.add_argument("--bind", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    serve.add_argument(
        "--workers", type=int, default=None, help="web worker processes (default: workers, min 2)"
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="load demo data if the registry is empty; login admin/admin",
    )
    serve.add_argument(
        "--demo-size", type=int, default=2000, help="individuals in the demo data (default 2000)"
    )
    serve.add_argument("--no-worker", action="store_true", help="do not start a background worker")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run a background job worker")
    worker.add_argument("--concurrency", type=int, default=None)
    worker.set_defaults(func=cmd_worker)

    demo = sub.add_parser("demo", help="load demo data (about 2,000 individuals in 500 households)")
    demo.add_argument("--size", type=int, default=2000, help="number of individuals (default 2000)")
    demo.add_argument(
        "--force", action="store_true", help="add demo data even if registrants exist"
    )
    demo.set_defaults(func=cmd_demo)

    imp = sub.add_parser("import", help="import individuals and groups from an XLSX or CSV file")
    imp.add_argument("file", help="the .xlsx or .csv file")
    imp.add_argument(
        "--mode",
        choices=["all_or_nothing", "skip_invalid"],
        default="all_or_nothing",
        help="all_or_nothing (default): any invalid row means nothing is written; "
        "skip_invalid: write the valid rows and report the invalid ones",
    )
    imp.add_argument(
        "--dry-run", action="store_true", help="validate and report only; write nothing"
    )
    imp.add_argument("--report", help="write the row errors to this CSV file")
    imp.set_defaults(func=cmd_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in OWN_COMMANDS and not argv[0].startswith("-"):
        # Any Django management command: g2p migrate, g2p shell, g2p createsuperuser, ...
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pbms.settings")
        from django.core.management import execute_from_command_line

        execute_from_command_line(["g2p", *argv])
        return 0
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        print("\nDjango management commands are available too, e.g. 'g2p migrate', 'g2p shell'.")
        return 0
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
