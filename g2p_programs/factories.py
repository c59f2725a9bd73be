"""Factories for program records, shipped with the app so add-on apps reuse them."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

import factory
from django.db import connection
from django.utils import timezone
from factory.django import DjangoModelFactory
from psycopg import sql

from g2p_programs import models
from g2p_programs.choices import ManagerKind, MembershipState, TargetType
from g2p_registry_base.factories import GroupFactory, IdTypeFactory, IndividualFactory


class ProgramFactory(DjangoModelFactory):
    class Meta:
        model = models.Program

    name = factory.Sequence(lambda n: f"Program {n}")
    target_type = TargetType.INDIVIDUAL
    currency = "KES"


class ManagerAssignmentFactory(DjangoModelFactory):
    class Meta:
        model = models.ManagerAssignment

    program = factory.SubFactory(ProgramFactory)
    kind = ManagerKind.PROGRAM
    manager_key = "default"
    name = "Default"
    config = factory.LazyFunction(dict)


class ProgramMembershipFactory(DjangoModelFactory):
    class Meta:
        model = models.ProgramMembership

    program = factory.SubFactory(ProgramFactory)
    registrant = factory.SubFactory(IndividualFactory)
    state = MembershipState.DRAFT
    enrollment_date = factory.LazyAttribute(
        lambda o: timezone.now() if o.state == MembershipState.ENROLLED else None
    )


class CycleFactory(DjangoModelFactory):
    class Meta:
        model = models.Cycle

    program = factory.SubFactory(ProgramFactory)
    sequence = factory.Sequence(lambda n: n + 1)
    name = factory.LazyAttribute(lambda o: f"Cycle {o.sequence}")
    start_date = datetime.date(2026, 1, 1)
    end_date = datetime.date(2026, 1, 31)


class CycleMembershipFactory(DjangoModelFactory):
    class Meta:
        model = models.CycleMembership

    cycle = factory.SubFactory(CycleFactory)
    registrant = factory.SubFactory(IndividualFactory)
    state = "enrolled"


ManagerSpec = tuple[str, dict[str, Any]] | str


def program_with_managers(
    *,
    target_type: str = TargetType.INDIVIDUAL,
    program: models.Program | None = None,
    eligibility: Iterable[ManagerSpec] = ("default",),
    deduplication: Iterable[ManagerSpec] = ("default",),
    notification: Iterable[ManagerSpec] = (),
    **single: ManagerSpec | None,
) -> models.Program:
    """A program with managers attached: ``eligibility`` / ``deduplication`` / ``notification``
    are lists of keys or ``(key, config)`` pairs (sequence = list order); ``program``,
    ``cycle``, ``entitlement``, ``payment`` name one manager each (``program="default"`` unless
    given as None). Configs are validated like any saved assignment."""
    program = program or ProgramFactory(target_type=target_type)
    single.setdefault("program", "default")

    def add(kind: str, spec: ManagerSpec, sequence: int) -> None:
        key, config = (spec, {}) if isinstance(spec, str) else spec
        models.ManagerAssignment(
            program=program, kind=kind, manager_key=key, config=config, sequence=sequence
        ).save()

    for kind, specs in (
        (ManagerKind.ELIGIBILITY, eligibility),
        (ManagerKind.DEDUPLICATION, deduplication),
        (ManagerKind.NOTIFICATION, notification),
    ):
        for i, spec in enumerate(specs):
            add(kind, spec, (i + 1) * 10)
    for kind_name, spec in single.items():
        if spec is not None:
            add(ManagerKind(kind_name), spec, 10)
    return program


# --- volume data (set-based, for query-count tests and benchmarks) -------------------------------

_SKIP = {"id"}


def _clone_rows(template_id: int, n: int, overrides: dict[str, str]) -> None:
    """``n`` copies of registrant ``template_id``; ``overrides`` maps column -> SQL over ``g``."""
    with connection.cursor() as cursor:
        columns = [
            c.name
            for c in connection.introspection.get_table_description(
                cursor, "g2p_registry_base_registrant"
            )
            if c.name not in _SKIP
        ]
        select = sql.SQL(", ").join(
            sql.SQL(overrides[c]) if c in overrides else sql.Identifier("t", c) for c in columns
        )
        statement = sql.SQL(
            "INSERT INTO g2p_registry_base_registrant ({cols}) SELECT {select} "
            "FROM g2p_registry_base_registrant t, generate_series(1, %s) g "
            "WHERE t.id = %s ORDER BY g"
        ).format(cols=sql.SQL(", ").join(map(sql.Identifier, columns)), select=select)
        cursor.execute(
            statement.as_string(cursor.cursor.connection),
            [n, template_id],
        )


def beneficiaries_bulk_create(program: models.Program, n: int) -> None:
    """``n`` beneficiaries (draft) of ``program``; pairs (g, g+1 for odd g) share an ID, a phone
    and names, so every deduplication manager finds n/2 sets. For a group program each household
    has one current member carrying those keys."""
    id_type = IdTypeFactory(name="National ID")
    person = IndividualFactory(given_name="Template", family_name="Person")
    start = person.pk
    _clone_rows(
        person.pk,
        n,
        {
            "name": "'P ' || ((g + 1) / 2)",
            "given_name": "'G' || ((g + 1) / 2)",
            "family_name": "'F'",
        },
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO g2p_registry_base_registrantid "
            "(registrant_id, id_type_id, value, status, description) "
            "SELECT r.id, %s, 'N' || ((r.id - %s + 1) / 2), '', '' "
            "FROM g2p_registry_base_registrant r WHERE r.id > %s",
            [id_type.pk, start, start],
        )
        cursor.execute(
            "INSERT INTO g2p_registry_base_phonenumber "
            "(registrant_id, phone_no, phone_sanitized, country_code) "
            "SELECT r.id, x.p, x.p, '' FROM g2p_registry_base_registrant r, "
            "LATERAL (SELECT '+2547' || lpad(((r.id - %s + 1) / 2)::text, 8, '0') AS p) x "
            "WHERE r.id > %s",
            [start, start],
        )
        want_groups = False
        if program.target_type == "group":
            group = GroupFactory(name="Template household")
            _clone_rows(group.pk, n, {"name": "'H ' || g"})
            cursor.execute(
                "INSERT INTO g2p_registry_base_groupmembership "
                "(group_id, individual_id, start_date) "
                "SELECT h.id, p.id, now() FROM "
                "(SELECT id, row_number() OVER (ORDER BY id) k FROM g2p_registry_base_registrant "
                " WHERE id > %s AND is_group) h JOIN "
                "(SELECT id, row_number() OVER (ORDER BY id) k FROM g2p_registry_base_registrant "
                " WHERE id > %s AND id <= %s + %s) p ON p.k = h.k",
                [group.pk, start, start, n],
            )
            want_groups = True
            start = group.pk
        cursor.execute(
            "INSERT INTO g2p_programs_programmembership "
            "(registrant_id, program_id, state, create_date, write_date) "
            "SELECT r.id, %s, 'draft', now(), now() FROM g2p_registry_base_registrant r "
            "WHERE r.id > %s AND r.is_group = %s",
            [program.pk, start, want_groups],
        )
