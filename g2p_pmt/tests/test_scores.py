"""Scores: exact values, the breakdown, recompute on configuration and registrant changes, and
a query count independent of the number of registrants."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from g2p_pmt.jobs import pmt_scores_recompute_execute
from g2p_pmt.models import PmtConfig, PmtScore
from g2p_pmt.services import pmt_config_save, pmt_scores_refresh
from g2p_programs.choices import TargetType
from g2p_programs.factories import ProgramFactory, beneficiaries_bulk_create
from g2p_registry_base.factories import GroupFactory, IndividualFactory
from g2p_registry_base.models import GroupMembership, Registrant
from pbms.models import JobProgress, JobState

pytestmark = pytest.mark.django_db

UPSTREAM_EXAMPLE = [
    {"name": "x1", "source": "info", "key": "x1", "weight": Decimal("0.5")},
    {"name": "x2", "source": "info", "key": "x2", "weight": Decimal("0.3")},
]


def _score(program, registrant):  # type: ignore[no-untyped-def]
    return PmtScore.objects.get(program=program, registrant=registrant)


def test_upstream_example_scores_8_with_breakdown() -> None:
    program = ProgramFactory()
    person = IndividualFactory(additional_g2p_info={"x1": 10, "x2": 10.0})
    outcome = pmt_config_save(
        program=program, enabled=True, indicators=UPSTREAM_EXAMPLE, actor=None
    )
    assert outcome == {"changed": 1}
    row = _score(program, person)
    assert row.score == Decimal("8.0")
    assert row.breakdown == [
        {"indicator": "x1", "value": 10, "weight": 0.5, "points": 5.0},
        {"indicator": "x2", "value": 10.0, "weight": 0.3, "points": 3.0},
    ]


def test_fields_booleans_choices_and_bad_values() -> None:
    program = ProgramFactory()
    person = IndividualFactory(
        income=Decimal("250.50"),
        birthdate=timezone.localdate() - datetime.timedelta(days=365 * 40 + 12),
        additional_g2p_info={"roof": "mud", "has_tv": True, "rooms": "3", "cows": "many"},
    )
    other = IndividualFactory(
        birthdate=None, additional_g2p_info={"roof": "tin", "has_tv": "no", "rooms": 2}
    )
    pmt_config_save(
        program=program,
        enabled=True,
        indicators=[
            {"name": "income", "source": "field", "key": "income", "weight": Decimal("0.01")},
            {"name": "age", "source": "field", "key": "age", "weight": Decimal("1")},
            {
                "name": "roof",
                "key": "roof",
                "value_type": "choice",
                "choices": {"mud": 3, "brick": 1.5},
                "weight": Decimal("2"),
            },
            {"name": "tv", "key": "has_tv", "value_type": "boolean", "weight": Decimal("-4")},
            {"name": "rooms", "key": "rooms", "weight": Decimal("1.5")},
            {"name": "cows", "key": "cows", "weight": Decimal("7")},
        ],
        actor=None,
    )
    row = _score(program, person)
    # 2.505 + 40 + 6 - 4 + 4.5 + 0 (not a number)
    assert row.score == Decimal("49.005")
    assert [e["points"] for e in row.breakdown] == [2.505, 40, 6, -4, 4.5, 0]
    assert _score(program, other).score == Decimal("3")  # unknown roof 0, "no" 0, rooms 2 × 1.5


def test_group_program_aggregates_over_current_members() -> None:
    program = ProgramFactory(target_type=TargetType.GROUP)
    house = GroupFactory(additional_g2p_info={"land": 2})
    a = IndividualFactory(income=Decimal("100"), additional_g2p_info={"disabled": True})
    b = IndividualFactory(income=Decimal("50"), additional_g2p_info={"disabled": False})
    gone = IndividualFactory(income=Decimal("1000"), additional_g2p_info={"disabled": True})
    off = IndividualFactory(income=Decimal("1000"))
    for person in (a, b, gone, off):
        GroupMembership(group=house, individual=person).save()
    now = timezone.now()
    GroupMembership.objects.filter(individual=gone).update(
        start_date=now - datetime.timedelta(days=9), ended_date=now - datetime.timedelta(days=1)
    )
    Registrant.objects.filter(pk=off.pk).update(disabled=now, disabled_reason="moved")
    pmt_config_save(
        program=program,
        enabled=True,
        indicators=[
            {"name": "land", "key": "land", "weight": Decimal("1")},
            {"name": "members", "key": "", "aggregate": "count", "weight": Decimal("10")},
            {
                "name": "income",
                "source": "field",
                "key": "income",
                "aggregate": "sum",
                "weight": Decimal("0.1"),
            },
            {
                "name": "any disabled",
                "key": "disabled",
                "value_type": "boolean",
                "aggregate": "any",
                "weight": Decimal("-5"),
            },
            {
                "name": "all disabled",
                "key": "disabled",
                "value_type": "boolean",
                "aggregate": "all",
                "weight": Decimal("-100"),
            },
        ],
        actor=None,
    )
    row = _score(program, house)
    assert [e["value"] for e in row.breakdown] == [2, 2, 150, 1, 0]
    assert row.score == Decimal("2") + Decimal("20") + Decimal("15") - Decimal("5")
    assert not PmtScore.objects.filter(registrant__in=[a, b]).exists()  # groups only


def test_recompute_on_configuration_and_registrant_change_and_rerun_changes_nothing() -> None:
    program = ProgramFactory()
    person = IndividualFactory(additional_g2p_info={"x1": 10, "x2": 10})
    pmt_config_save(program=program, enabled=True, indicators=UPSTREAM_EXAMPLE, actor=None)
    again = pmt_config_save(program=program, enabled=True, indicators=UPSTREAM_EXAMPLE, actor=None)
    assert again == {"changed": 0}
    pmt_config_save(
        program=program,
        enabled=True,
        indicators=[{**UPSTREAM_EXAMPLE[0], "weight": Decimal("2")}],
        actor=None,
    )
    assert _score(program, person).score == Decimal("20")
    person.additional_g2p_info = {"x1": 1}
    person.save()
    assert _score(program, person).score == Decimal("20")  # stale until refreshed
    assert pmt_scores_refresh(registrant_ids=[person.pk]) == {"changed": 1, "queued": 0}
    assert _score(program, person).score == Decimal("2")
    assert pmt_scores_refresh(registrant_ids=[person.pk]) == {"changed": 0, "queued": 0}
    assert pmt_config_save(program=program, enabled=False, indicators=[], actor=None) == {
        "deleted": 1
    }
    assert not PmtScore.objects.filter(program=program).exists()


def test_member_change_reaches_the_group_score() -> None:
    program = ProgramFactory(target_type=TargetType.GROUP)
    house = GroupFactory()
    member = IndividualFactory(income=Decimal("10"))
    GroupMembership(group=house, individual=member).save()
    pmt_config_save(
        program=program,
        enabled=True,
        indicators=[
            {
                "name": "income",
                "source": "field",
                "key": "income",
                "aggregate": "sum",
                "weight": Decimal("1"),
            }
        ],
        actor=None,
    )
    assert _score(program, house).score == Decimal("10")
    Registrant.objects.filter(pk=member.pk).update(income=Decimal("35"))
    assert pmt_scores_refresh(registrant_ids=[member.pk]) == {"changed": 1, "queued": 0}
    assert _score(program, house).score == Decimal("35")


def test_bad_indicator_is_refused_and_nothing_written() -> None:
    program = ProgramFactory()
    IndividualFactory()
    with pytest.raises(ValidationError) as exc:
        pmt_config_save(
            program=program,
            enabled=True,
            indicators=[
                UPSTREAM_EXAMPLE[0],
                {"name": "bad", "source": "field", "key": "name", "weight": Decimal("1")},
            ],
            actor=None,
        )
    assert "indicators[1]" in exc.value.message_dict
    assert "name is not a numeric registrant field" in exc.value.message_dict["indicators[1]"][0]
    assert not PmtScore.objects.exists()
    assert not hasattr(program, "pmt_config") or not program.pmt_config.indicators.exists()


@pytest.mark.parametrize("target", [TargetType.INDIVIDUAL, TargetType.GROUP])
def test_recompute_query_count_is_the_same_for_10_and_1000(target: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.G2P_MAX_ROWS_INLINE = 100_000
    counts, created = [], []
    indicators = [
        *UPSTREAM_EXAMPLE,
        {"name": "n", "key": "", "aggregate": "count", "weight": Decimal("1")},
    ]
    if target == TargetType.INDIVIDUAL:
        indicators = UPSTREAM_EXAMPLE
    for n in (10, 1000):
        PmtConfig.objects.update(enabled=False)  # one program scored per round
        program = ProgramFactory(target_type=target)
        beneficiaries_bulk_create(program, n)
        Registrant.objects.update(additional_g2p_info={"x1": 10, "x2": 10})
        with CaptureQueriesContext(connection) as ctx:
            outcome = pmt_config_save(
                program=program, enabled=True, indicators=indicators, actor=None
            )
        counts.append(len(ctx.captured_queries))
        created.append(outcome["changed"])
        ids = list(Registrant.objects.values_list("pk", flat=True))
        with CaptureQueriesContext(connection) as ctx:
            pmt_scores_refresh(registrant_ids=ids)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[2] and counts[1] == counts[3]
    scored = Registrant.objects.filter(is_group=target == TargetType.GROUP).count()
    assert created[1] == scored == PmtScore.objects.filter(program=program).count()


def test_large_change_enqueues_the_job_which_scores_everyone(settings) -> None:  # type: ignore[no-untyped-def]
    settings.G2P_MAX_ROWS_INLINE = 5
    settings.G2P_JOB_CHUNK_SIZE = 4
    program = ProgramFactory()
    beneficiaries_bulk_create(program, 10)
    Registrant.objects.update(additional_g2p_info={"x1": 10, "x2": 10})
    outcome = pmt_config_save(
        program=program, enabled=True, indicators=UPSTREAM_EXAMPLE, actor=None
    )
    total = Registrant.objects.filter(is_group=False).count()
    assert outcome == {"queued": total}
    assert not PmtScore.objects.exists()
    progress = JobProgress.objects.get(operation="g2p_pmt.recompute")
    assert progress.procrastinate_job_id is not None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT task_name, args FROM procrastinate_jobs WHERE id = %s",
            [progress.procrastinate_job_id],
        )
        task_name, args = cursor.fetchone()
    assert task_name == "g2p_pmt.pmt_scores_recompute_run"
    if isinstance(args, str):
        args = json.loads(args)
    assert args == {"progress_id": progress.pk, "program_id": program.pk}
    assert pmt_scores_recompute_execute(progress_id=progress.pk, program_id=program.pk) == total
    progress.refresh_from_db()
    assert (progress.state, progress.done, progress.total) == (JobState.DONE, total, total)
    assert set(PmtScore.objects.values_list("score", flat=True)) == {Decimal("8")}
    # redelivery of a finished job does nothing
    assert pmt_scores_recompute_execute(progress_id=progress.pk, program_id=program.pk) == 0


def test_job_retries_later_while_another_recompute_holds_the_program(settings) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    from g2p_pmt.jobs import RecomputeBusy

    settings.G2P_MAX_ROWS_INLINE = 0
    program = ProgramFactory()
    IndividualFactory(additional_g2p_info={"x1": 10, "x2": 10})
    pmt_config_save(program=program, enabled=True, indicators=UPSTREAM_EXAMPLE, actor=None)
    progress = JobProgress.objects.get(operation="g2p_pmt.recompute")
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute(
            "SELECT pg_advisory_lock(hashtextextended(%s, 0))",
            [f"g2p_pmt.recompute:program:{program.pk}"],
        )
        with pytest.raises(RecomputeBusy):
            pmt_scores_recompute_execute(progress_id=progress.pk, program_id=program.pk)
    assert not PmtScore.objects.exists()
    assert pmt_scores_recompute_execute(progress_id=progress.pk, program_id=program.pk) == 1
