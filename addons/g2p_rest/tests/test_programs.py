"""Program reads: programs, and a registrant's memberships, entitlements and payments."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from addons.g2p_rest.tests.conftest import basic
from addons.g2p_rest.tests.helpers import stamp
from g2p_programs.factories import CycleFactory, ProgramFactory, ProgramMembershipFactory
from g2p_programs.models import Entitlement, Payment
from g2p_registry_base.factories import IndividualFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_program_admin(registry_admin):  # type: ignore[no-untyped-def]
    return basic("regadmin", "regadmin-pass-123")


@pytest.fixture
def records():  # type: ignore[no-untyped-def]
    person = IndividualFactory()
    program = ProgramFactory(name="Cash for Work", description="Pilot")
    membership = ProgramMembershipFactory(program=program, registrant=person, state="enrolled")
    cycle = CycleFactory(program=program, name="Cycle 1")
    entitlement = Entitlement.objects.create(
        registrant=person,
        cycle=cycle,
        program=program,
        currency="KES",
        initial_amount=Decimal("1500.00"),
        valid_from=datetime.date(2026, 1, 1),
        valid_until=datetime.date(2026, 1, 31),
    )
    payment = Payment.objects.create(
        entitlement=entitlement, cycle=cycle, currency="KES", amount_issued=Decimal("1500.00")
    )
    return person, program, membership, cycle, entitlement, payment


def test_program_list_and_get(client, as_program_admin, records):
    _person, program, *_ = records
    other = ProgramFactory(name="Old age grant")
    program.refresh_from_db()
    expected = {
        "id": program.pk,
        "name": "Cash for Work",
        "description": "Pilot",
        "target_type": "individual",
        "state": "active",
        "currency": "KES",
        "active": True,
        "date_ended": None,
        "create_date": stamp(program.create_date),
        "write_date": stamp(program.write_date),
    }
    body = client.get("/api/v1/programs", **as_program_admin).json()
    assert body["count"] == 2
    assert body["items"][0] == expected
    assert [p["id"] for p in body["items"]] == [program.pk, other.pk]
    page = client.get("/api/v1/programs?limit=1&offset=1", **as_program_admin).json()
    assert (page["count"], [p["id"] for p in page["items"]]) == (2, [other.pk])
    assert client.get("/api/v1/programs?name=grant", **as_program_admin).json()["count"] == 1
    assert client.get(f"/api/v1/programs/{program.pk}", **as_program_admin).json() == expected
    missing = client.get(f"/api/v1/programs/{other.pk + 100}", **as_program_admin)
    assert missing.status_code == 404


def test_registrant_memberships_entitlements_payments(client, as_program_admin, records):
    person, program, membership, cycle, entitlement, payment = records
    base = f"/api/v1/registrants/{person.pk}"
    assert client.get(f"{base}/program_memberships", **as_program_admin).json() == {
        "count": 1,
        "limit": 50,
        "offset": 0,
        "items": [
            {
                "id": membership.pk,
                "program_id": program.pk,
                "program": "Cash for Work",
                "state": "enrolled",
                "enrollment_date": stamp(membership.enrollment_date),
                "exit_date": None,
            }
        ],
    }
    assert client.get(f"{base}/entitlements", **as_program_admin).json()["items"] == [
        {
            "id": entitlement.pk,
            "code": entitlement.code,
            "program_id": program.pk,
            "cycle_id": cycle.pk,
            "cycle": "Cycle 1",
            "is_cash_entitlement": True,
            "currency": "KES",
            "initial_amount": "1500.00",
            "transfer_fee": "0.00",
            "valid_from": "2026-01-01",
            "valid_until": "2026-01-31",
            "state": "draft",
            "date_approved": None,
        }
    ]
    assert client.get(f"{base}/payments", **as_program_admin).json()["items"] == [
        {
            "id": payment.pk,
            "name": payment.name,
            "entitlement_id": entitlement.pk,
            "cycle_id": cycle.pk,
            "state": "issued",
            "status": None,
            "currency": "KES",
            "amount_issued": "1500.00",
            "amount_paid": None,
            "payment_fee": "0.00",
            "issuance_date": stamp(payment.issuance_date),
            "payment_datetime": None,
        }
    ]
    empty = client.get(f"{base}/payments?offset=5", **as_program_admin).json()
    assert (empty["count"], empty["items"]) == (1, [])


def test_unknown_registrant_is_404(client, as_program_admin):
    response = client.get("/api/v1/registrants/987654/entitlements", **as_program_admin)
    assert response.status_code == 404
    assert response.json() == {"detail": "Record is not present in the database."}


def test_registry_viewer_without_program_rights_is_403(client, as_viewer, records):
    person, *_ = records
    for url in ("/api/v1/programs", f"/api/v1/registrants/{person.pk}/payments"):
        response = client.get(url, **as_viewer)
        assert response.status_code == 403
        assert "view_" in response.json()["detail"]
