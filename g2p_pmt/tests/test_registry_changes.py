"""Scores follow registry writes: every registry service (and the import) tells the PMT which
registrants changed, and their scores — and their groups' — are recomputed in the same
transaction."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from g2p_pmt.models import PmtScore
from g2p_pmt.services import pmt_config_save
from g2p_programs.choices import TargetType
from g2p_programs.factories import ProgramFactory
from g2p_registry_base import services
from g2p_registry_base.factories import (
    GroupFactory,
    IdTypeFactory,
    IndividualFactory,
    RegistrantTagFactory,
)
from g2p_registry_base.imports import registry_import_file
from g2p_registry_base.models import GroupMembership, Registrant
from g2p_registry_base.tests.test_imports import household_rows, write_csv

pytestmark = pytest.mark.django_db

INCOME_SUM = [
    {
        "name": "income",
        "source": "field",
        "key": "income",
        "aggregate": "sum",
        "weight": Decimal("1"),
    }
]


def _score(program, registrant) -> Decimal:  # type: ignore[no-untyped-def]
    return PmtScore.objects.get(program=program, registrant=registrant).score


def test_registry_services_keep_group_scores_current() -> None:
    program = ProgramFactory(target_type=TargetType.GROUP)
    house = GroupFactory()
    ann = IndividualFactory(income=Decimal("10"))
    GroupMembership(group=house, individual=ann).save()
    pmt_config_save(program=program, enabled=True, indicators=INCOME_SUM, actor=None)
    assert _score(program, house) == Decimal("10")

    ann.income = Decimal("25")
    services.registrant_save(registrant=ann, actor=None)
    assert _score(program, house) == Decimal("25")

    bob = IndividualFactory(income=Decimal("5"))
    joined = services.membership_save(
        membership=GroupMembership(group=house, individual=bob), actor=None
    )
    assert _score(program, house) == Decimal("30")

    services.registrants_disable(registrant_ids=[bob.pk], reason="moved away", actor=None)
    assert _score(program, house) == Decimal("25")
    services.registrants_enable(registrant_ids=[bob.pk], actor=None)
    assert _score(program, house) == Decimal("30")

    services.membership_end(membership=joined, actor=None)
    assert _score(program, house) == Decimal("25")

    services.registrant_delete(registrant=ann, actor=None)
    assert _score(program, house) == Decimal("0")


def test_refused_write_changes_no_score() -> None:
    program = ProgramFactory()
    ann = IndividualFactory(income=Decimal("10"), email="")
    pmt_config_save(
        program=program,
        enabled=True,
        indicators=[{**INCOME_SUM[0], "aggregate": "own"}],
        actor=None,
    )
    ann.income = Decimal("99")
    ann.email = "not an address"
    with pytest.raises(ValidationError):
        services.registrant_save(registrant=ann, actor=None)
    assert Registrant.objects.get(pk=ann.pk).income == Decimal("10")
    assert _score(program, ann) == Decimal("10")


def test_import_scores_the_households_it_writes(tmp_path: Path) -> None:
    IdTypeFactory(name="National ID", id_validation="[0-9]{10}")
    RegistrantTagFactory(name="Urban")
    RegistrantTagFactory(name="Vulnerable")
    program = ProgramFactory(target_type=TargetType.GROUP)
    pmt_config_save(
        program=program,
        enabled=True,
        indicators=[
            {
                "name": "members",
                "source": "field",
                "key": "age",
                "aggregate": "count",
                "weight": Decimal("2"),
            }
        ],
        actor=None,
    )
    result = registry_import_file(path=write_csv(tmp_path, household_rows()))
    assert result.written
    scores = {
        name: score
        for name, score in PmtScore.objects.filter(program=program).values_list(
            "registrant__name", "score"
        )
    }
    members = {
        g.name: GroupMembership.objects.filter(group=g).count()
        for g in Registrant.objects.filter(is_group=True)
    }
    assert scores == {name: Decimal(2 * n) for name, n in members.items()}
    assert sorted(members.values()) == [2, 2]
