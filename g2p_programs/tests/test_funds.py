"""Program funds: posting and numbering, cancel / reset, delete refusal, balance and report."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from g2p_programs.choices import EntitlementState, FundState, PaymentStatus
from g2p_programs.models import Entitlement, FundSequence, Payment, ProgramFund
from g2p_programs.services import funds
from g2p_programs.tests.fixtures_money import *  # noqa: F403
from g2p_programs.tests.fixtures_money import (
    add_beneficiaries,
    individual,
    make_cycle,
    make_program,
    posted_fund,
)

pytestmark = pytest.mark.django_db
YEAR = timezone.localdate().year


def ref(n: int) -> str:
    return f"PF-{YEAR}-{n:06d}"


def test_fund_create_is_draft_in_program_currency(finance):
    program = make_program(currency="KES")
    fund = funds.fund_create(program=program, amount=Decimal("500.00"), actor=finance)
    fund.refresh_from_db()
    assert (fund.name, fund.state, fund.amount, fund.currency) == (
        "Draft",
        FundState.DRAFT,
        Decimal("500.00"),
        "KES",
    )


def test_fund_amount_must_be_positive(finance):
    program = make_program()
    with pytest.raises(ValidationError) as exc:
        funds.fund_create(program=program, amount=Decimal("0"), actor=finance)
    assert "The amount must be greater than zero." in str(exc.value)
    assert ProgramFund.objects.count() == 0


def test_fund_post_numbers_gaplessly_skipping_cancelled_and_rolled_back(finance):
    program = make_program()
    a = funds.fund_create(program=program, amount=Decimal("10"), actor=finance)
    b = funds.fund_create(program=program, amount=Decimal("20"), actor=finance)
    c = funds.fund_create(program=program, amount=Decimal("30"), actor=finance)
    d = funds.fund_create(program=program, amount=Decimal("40"), actor=finance)

    result = funds.fund_post(fund=a, actor=finance)
    assert result.message == "This fund is now posted!"
    assert (a.name, a.state, a.date_posted) == (ref(1), FundState.POSTED, timezone.localdate())

    funds.fund_cancel(fund=b, actor=finance)  # a cancelled draft takes no number

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        funds.fund_post(fund=c, actor=finance)
        raise Boom  # the post is rolled back: its number is given back

    c.refresh_from_db()
    assert (c.name, c.state) == ("Draft", FundState.DRAFT)
    funds.fund_post(fund=d, actor=finance)
    funds.fund_post(fund=c, actor=finance)
    names = dict(ProgramFund.objects.values_list("pk", "name"))
    assert [names[a.pk], names[b.pk], names[d.pk], names[c.pk]] == [
        ref(1),
        "Draft",
        ref(2),
        ref(3),
    ]
    assert FundSequence.objects.get(year=YEAR).last_number == 3


def test_fund_post_refused_unless_draft_and_changes_nothing(finance):
    program = make_program()
    fund = funds.fund_create(program=program, amount=Decimal("10"), actor=finance)
    funds.fund_post(fund=fund, actor=finance)
    before = ProgramFund.objects.values().get(pk=fund.pk)
    with pytest.raises(ValidationError) as exc:
        funds.fund_post(fund=fund, actor=finance)
    assert exc.value.messages == ["Only draft program funds can be posted."]
    with pytest.raises(ValidationError) as exc:
        funds.fund_cancel(fund=fund, actor=finance)
    assert exc.value.messages == ["Only draft program funds can be cancelled."]
    with pytest.raises(ValidationError) as exc:
        funds.fund_reset_draft(fund=fund, actor=finance)
    assert exc.value.messages == ["Only cancelled program funds can be reset to draft."]
    assert ProgramFund.objects.values().get(pk=fund.pk) == before
    assert FundSequence.objects.get(year=YEAR).last_number == 1


def test_fund_cancel_and_reset_draft(finance):
    program = make_program()
    fund = funds.fund_create(program=program, amount=Decimal("10"), actor=finance)
    funds.fund_cancel(fund=fund, actor=finance)
    assert ProgramFund.objects.get(pk=fund.pk).state == FundState.CANCELLED
    funds.fund_reset_draft(fund=fund, actor=finance)
    assert ProgramFund.objects.get(pk=fund.pk).state == FundState.DRAFT
    funds.fund_post(fund=fund, actor=finance)
    assert ProgramFund.objects.get(pk=fund.pk).name == ref(1)


def test_posted_fund_cannot_be_deleted(admin_user, finance):
    program = make_program()
    fund = funds.fund_create(program=program, amount=Decimal("10"), actor=finance)
    funds.fund_post(fund=fund, actor=finance)
    with pytest.raises(ValidationError) as exc:
        funds.fund_delete(fund=fund, actor=admin_user)
    assert exc.value.messages == ["This fund is already posted and cannot be deleted."]
    assert ProgramFund.objects.filter(pk=fund.pk).exists()
    draft = funds.fund_create(program=program, amount=Decimal("5"), actor=finance)
    funds.fund_delete(fund=draft, actor=admin_user)
    assert not ProgramFund.objects.filter(pk=draft.pk).exists()


@pytest.mark.parametrize("who", ["viewer", "registrar", "validator_user", "program_manager_user"])
def test_fund_post_requires_post_fund_permission(who, request, finance):
    actor = request.getfixturevalue(who)
    program = make_program()
    fund = funds.fund_create(program=program, amount=Decimal("10"), actor=finance)
    with pytest.raises(PermissionDenied):
        funds.fund_post(fund=fund, actor=actor)
    with pytest.raises(PermissionDenied):
        funds.fund_cancel(fund=fund, actor=actor)
    fund.refresh_from_db()
    assert (fund.name, fund.state) == ("Draft", FundState.DRAFT)
    assert not FundSequence.objects.exists()


def test_balance_is_posted_minus_committed_in_one_query(django_assert_num_queries, finance):
    program = make_program()
    other = make_program(name="Other")
    posted_fund(program, "1000.00", "PF-X-1")
    posted_fund(program, "250.50", "PF-X-2")
    posted_fund(other, "99.00", "PF-X-3")
    funds.fund_create(program=program, amount=Decimal("777"), actor=finance)  # draft: ignored
    cycle = make_cycle(program)
    people = [individual(f"P{i}") for i in range(6)]
    add_beneficiaries(cycle, people)
    states = [
        EntitlementState.APPROVED,
        EntitlementState.APPROVED,
        EntitlementState.DRAFT,
        EntitlementState.PENDING_VALIDATION,
        EntitlementState.CANCELLED,
        EntitlementState.EXPIRED,
    ]
    for person, state in zip(people, states, strict=True):
        Entitlement.objects.create(
            registrant=person,
            cycle=cycle,
            program=program,
            initial_amount=Decimal("100.25"),
            state=state,
        )
    # An expired entitlement that was paid stays spent.
    paid = Entitlement.objects.get(registrant=people[5])
    Payment.objects.create(
        entitlement=paid, cycle=cycle, amount_issued=paid.initial_amount, status=PaymentStatus.PAID
    )
    with django_assert_num_queries(1):
        balance = funds.program_fund_balance(program=program)
    assert balance == Decimal("1250.50") - 3 * Decimal("100.25")
    report = funds.fund_report(program=program)
    assert (report.posted_total, report.approved_total, report.balance) == (
        Decimal("1250.50"),
        Decimal("300.75"),
        balance,
    )
    lines = list(report.lines)
    assert [(line["kind"], line["value"]) for line in lines][:2] == [
        ("fund", Decimal("1000.00")),
        ("fund", Decimal("250.50")),
    ]
    assert (
        sorted(line["value"] for line in lines if line["kind"] == "entitlement")
        == [Decimal("-100.25")] * 3
    )
    assert sum(line["value"] for line in lines) == balance


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_get_distinct_consecutive_numbers(django_user_model):
    from g2p_programs.roles import ROLE_FINANCE_VALIDATOR
    from g2p_programs.tests.fixtures_money import role_user

    actor = role_user(django_user_model, "fin-c", ROLE_FINANCE_VALIDATOR)
    program = make_program()
    a = funds.fund_create(program=program, amount=Decimal("1"), actor=actor)
    b = funds.fund_create(program=program, amount=Decimal("2"), actor=actor)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def post(fund: ProgramFund) -> None:
        try:
            barrier.wait(timeout=10)
            funds.fund_post(fund=fund, actor=actor)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(f,)) for f in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    names = sorted(ProgramFund.objects.values_list("name", flat=True))
    assert names == [ref(1), ref(2)]
    assert FundSequence.objects.get(year=YEAR).last_number == 2
