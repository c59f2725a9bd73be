"""System checks of the workflow admins run without the database (``migrate`` on a new one)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext

from g2p_programs.admin import WorkflowAdmin, workflow
from g2p_programs.models import Program


def _admin(*perms: str) -> Any:
    class Probe(WorkflowAdmin):
        actions_detail = ["probe"]
        probe = workflow(
            "Probe", states=None, perms=perms, run=lambda obj, user: "", url_path="probe"
        )

    return Probe(Program, admin.site)


def test_registered_admins_pass_their_checks_without_a_query(db: Any) -> None:
    with CaptureQueriesContext(connection) as ctx:
        errors = [e for model_admin in admin.site._registry.values() for e in model_admin.check()]
    assert errors == []
    assert [q["sql"] for q in ctx.captured_queries if "auth_permission" in q["sql"]] == []


def test_declared_permissions_are_accepted() -> None:
    probe = _admin("g2p_programs.change_program", "g2p_programs.view_programfund")
    assert probe.check() == []


def test_an_unknown_permission_is_reported() -> None:
    errors = _admin("g2p_programs.launch_rocket").check()
    assert [(e.id, e.msg) for e in errors] == [
        ("admin.E129", "Probe.probe: unknown action permission g2p_programs.launch_rocket.")
    ]


def test_a_missing_permission_method_is_reported() -> None:
    errors = _admin("launch").check()
    assert [(e.id, e.msg) for e in errors] == [
        ("admin.E129", "Probe.probe: unknown action permission launch.")
    ]
