"""A live PBMS server on 127.0.0.1 with a small registry, for the Odoo client libraries."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.conf import settings

# Bind the live server to the loopback address only (pytest-django reads this on first use).
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")

from g2p_registry_base.factories import (  # noqa: E402
    GroupFactory,
    IdTypeFactory,
    IndividualFactory,
    MembershipFactory,
    PhoneNumberFactory,
    RegistrantIdFactory,
)


@dataclass
class Server:
    url: str
    host: str
    port: int
    db: str


@pytest.fixture(scope="session")
def _server_connections_closed(django_db_setup, django_db_blocker, live_server):  # type: ignore[no-untyped-def]
    """Close the server threads' database sessions before the test database is dropped.

    Request threads kept alive by HTTP keep-alive still hold their connection when the
    session ends, which would stop the test database from being dropped.
    """
    yield
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def server(live_server, _server_connections_closed) -> Server:  # type: ignore[no-untyped-def]
    parts = urlsplit(live_server.url)
    assert parts.hostname in ("127.0.0.1", "localhost")
    return Server(
        url=f"http://127.0.0.1:{parts.port}",
        host="127.0.0.1",
        port=int(parts.port or 80),
        db=str(settings.DATABASES["default"]["NAME"]),
    )


@pytest.fixture
def registry_data(transactional_db):  # type: ignore[no-untyped-def]
    """Two households; Alice (head of the first) has a national ID and a phone."""
    national = IdTypeFactory(name="National ID", id_validation=r"[0-9]{10}")
    first = GroupFactory(name="Household Alpha")
    second = GroupFactory(name="Household Beta")
    alice = IndividualFactory(
        given_name="Alice", family_name="Achieng", birthdate=datetime.date(1980, 3, 1)
    )
    bob = IndividualFactory(
        given_name="Bob",
        family_name="Baraka",
        gender_id="Male",
        birthdate=datetime.date(2001, 7, 9),
    )
    carol = IndividualFactory(
        given_name="Carol", family_name="Chebet", birthdate=datetime.date(1955, 1, 2)
    )
    membership = MembershipFactory(group=first, individual=alice)
    MembershipFactory(group=first, individual=bob)
    MembershipFactory(group=second, individual=carol)
    reg_id = RegistrantIdFactory(registrant=alice, id_type=national, value="1234567890")
    phone = PhoneNumberFactory(registrant=alice, phone_no="+254712345678")
    return {
        "national": national,
        "first": first,
        "second": second,
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "membership": membership,
        "reg_id": reg_id,
        "phone": phone,
    }
