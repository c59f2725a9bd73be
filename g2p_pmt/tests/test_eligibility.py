"""The ``pmt`` eligibility manager: threshold, direction, unscored registrants, chaining."""

from __future__ import annotations

from decimal import Decimal

import pytest

from g2p_pmt.program_managers import PmtEligibilityManager
from g2p_pmt.services import pmt_config_save
from g2p_programs.choices import MembershipState
from g2p_programs.factories import ProgramMembershipFactory, program_with_managers
from g2p_programs.registry import registry
from g2p_programs.services.programs import program_enroll_eligible
from g2p_registry_base.factories import IndividualFactory

pytestmark = pytest.mark.django_db

POVERTY = [{"name": "assets", "key": "assets", "weight": Decimal("1")}]


def _program(*eligibility):  # type: ignore[no-untyped-def]
    program = program_with_managers(eligibility=list(eligibility), deduplication=[])
    people = {}
    for name, assets, gender in (("poor", 3, "Female"), ("edge", 5, "Male"), ("rich", 9, "Female")):
        person = IndividualFactory(
            given_name=name, gender_id=gender, additional_g2p_info={"assets": assets}
        )
        ProgramMembershipFactory(program=program, registrant=person)
        people[name] = person
    return program, people


def _states(program):  # type: ignore[no-untyped-def]
    return dict(program.memberships.values_list("registrant__given_name", "state").order_by("pk"))


def test_registered_under_pmt() -> None:
    assert registry.get("eligibility", "pmt") is PmtEligibilityManager


def test_at_or_below_threshold_is_eligible() -> None:
    program, _people = _program(("pmt", {"threshold": "5"}))
    pmt_config_save(program=program, enabled=True, indicators=POVERTY, actor=None)
    note = program_enroll_eligible(program=program, actor=None)
    assert note.data == {"enrolled": 2, "not_eligible": 1}
    assert _states(program) == {
        "poor": MembershipState.ENROLLED,
        "edge": MembershipState.ENROLLED,
        "rich": MembershipState.NOT_ELIGIBLE,
    }


def test_above_threshold_direction() -> None:
    program, _people = _program(("pmt", {"threshold": "5", "direction": "above"}))
    pmt_config_save(program=program, enabled=True, indicators=POVERTY, actor=None)
    assert program_enroll_eligible(program=program, actor=None).data == {
        "enrolled": 1,
        "not_eligible": 2,
    }
    assert _states(program)["rich"] == MembershipState.ENROLLED


def test_unscored_registrant_of_an_enabled_program_is_not_eligible() -> None:
    program, _people = _program(("pmt", {"threshold": "100"}))
    pmt_config_save(program=program, enabled=True, indicators=POVERTY, actor=None)
    late = IndividualFactory(given_name="late")
    ProgramMembershipFactory(program=program, registrant=late)
    program_enroll_eligible(program=program, actor=None)
    assert _states(program)["late"] == MembershipState.NOT_ELIGIBLE


def test_without_pmt_every_score_is_zero() -> None:
    program, _people = _program(("pmt", {"threshold": "0"}))
    assert program_enroll_eligible(program=program, actor=None).data == {
        "enrolled": 3,
        "not_eligible": 0,
    }
    other, _people = _program(("pmt", {"threshold": "0", "direction": "above"}))
    assert program_enroll_eligible(program=other, actor=None).data == {
        "enrolled": 0,
        "not_eligible": 3,
    }


def test_chained_with_a_domain_rule() -> None:
    program, _people = _program(
        ("default", {"eligibility_domain": "[('gender', '=', 'Female')]"}),
        ("pmt", {"threshold": "5"}),
    )
    pmt_config_save(program=program, enabled=True, indicators=POVERTY, actor=None)
    program_enroll_eligible(program=program, actor=None)
    assert _states(program) == {
        "poor": MembershipState.ENROLLED,
        "edge": MembershipState.NOT_ELIGIBLE,  # male
        "rich": MembershipState.NOT_ELIGIBLE,  # score 9
    }


def test_bad_threshold_is_refused() -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        PmtEligibilityManager.validate_config({"threshold": "low", "mode": 1})
    messages = exc.value.message_dict["config"]
    assert any(m.startswith("threshold:") for m in messages)
    assert any(m.startswith("mode:") for m in messages)
