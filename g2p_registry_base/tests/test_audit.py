"""Audit trail (django-pghistory triggers): who changed what, when, old -> new, bulk SQL too."""

from __future__ import annotations

import datetime

import pghistory
import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from pghistory.models import Events, MiddlewareEvents

from g2p_registry_base import models, services
from g2p_registry_base.choices import HEAD_KIND_NAME
from g2p_registry_base.factories import (
    IdTypeFactory,
    IndividualFactory,
    MembershipFactory,
    PhoneNumberFactory,
    RegistrantTagFactory,
)

pytestmark = pytest.mark.django_db

RegistrantEvent = models.Registrant.pgh_event_model  # type: ignore[attr-defined]
PhoneNumberEvent = models.PhoneNumber.pgh_event_model  # type: ignore[attr-defined]
RegistrantIdEvent = models.RegistrantId.pgh_event_model  # type: ignore[attr-defined]
MembershipEvent = models.GroupMembership.pgh_event_model  # type: ignore[attr-defined]


def link_event(name: str):  # type: ignore[no-untyped-def]
    from django.apps import apps

    return apps.get_model("g2p_registry_base", name)


def history(obj) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def, type-arg]
    """(label, diff) of every event of ``obj``, oldest first."""
    return [(e.pgh_label, e.pgh_diff) for e in Events.objects.tracks(obj).order_by("pgh_id")]


def test_creating_a_registrant_is_recorded():
    person = IndividualFactory(family_name="Otieno", given_name="Jane")

    events = list(RegistrantEvent.objects.filter(pgh_obj=person))

    assert [(e.pgh_label, e.name, e.given_name) for e in events] == [
        ("insert", "OTIENO, JANE", "Jane")
    ]


def test_updating_a_registrant_records_old_and_new_values():
    person = IndividualFactory(family_name="Otieno", given_name="Jane", occupation="Farmer")

    person.given_name = "Janet"
    person.occupation = "Trader"
    person.save()

    (insert, _), (update, diff) = history(person)
    assert (insert, update) == ("insert", "update")
    assert diff["given_name"] == ["Jane", "Janet"]
    assert diff["name"] == ["OTIENO, JANE", "OTIENO, JANET"]
    assert diff["occupation"] == ["Farmer", "Trader"]
    assert set(diff) <= {"given_name", "name", "occupation", "write_date"}


def test_saving_without_changes_records_nothing_new():
    person = IndividualFactory()
    models.Registrant.objects.filter(pk=person.pk).update(occupation=person.occupation)

    assert [label for label, _ in history(person)] == ["insert"]


def test_deleting_a_registrant_is_recorded_and_outlives_the_row():
    person = IndividualFactory(family_name="Otieno", given_name="Jane")
    pk = person.pk

    services.registrant_delete(registrant=person, actor=None)

    assert not models.Registrant.objects.filter(pk=pk).exists()
    assert list(
        RegistrantEvent.objects.filter(pgh_obj_id=pk)
        .order_by("pgh_id")
        .values_list("pgh_label", "name")
    ) == [
        ("insert", "OTIENO, JANE"),
        ("delete", "OTIENO, JANE"),
    ]


def test_bulk_update_is_recorded_for_every_row():
    first = IndividualFactory(occupation="Farmer")
    second = IndividualFactory(occupation="Fisher")
    untouched = IndividualFactory(occupation="Teacher")

    count = models.Registrant.objects.filter(pk__in=[first.pk, second.pk]).update(
        occupation="Trader"
    )

    assert count == 2
    assert history(first)[-1] == ("update", {"occupation": ["Farmer", "Trader"]})
    assert history(second)[-1] == ("update", {"occupation": ["Fisher", "Trader"]})
    assert [label for label, _ in history(untouched)] == ["insert"]


def test_disabling_and_enabling_are_recorded_with_the_reason(registry_admin):
    person = IndividualFactory()

    services.registrants_disable(
        registrant_ids=[person.pk], reason="Deceased", actor=registry_admin
    )
    services.registrants_enable(registrant_ids=[person.pk], actor=registry_admin)

    events = list(RegistrantEvent.objects.filter(pgh_obj=person).order_by("pgh_id"))
    assert [(e.pgh_label, e.disabled_reason, e.disabled_by_id) for e in events] == [
        ("insert", "", None),
        ("update", "Deceased", registry_admin.pk),
        ("update", "", None),
    ]
    assert events[1].disabled is not None and events[2].disabled is None


def test_refused_change_leaves_no_event():
    person = IndividualFactory(income=100)

    with pytest.raises(IntegrityError), transaction.atomic():
        models.Registrant.objects.filter(pk=person.pk).update(income=-1)

    assert [label for label, _ in history(person)] == ["insert"]


def test_phone_added_changed_and_removed_is_recorded():
    phone = PhoneNumberFactory(phone_no="0712345678")
    pk = phone.pk

    phone.phone_no = "0733000111"
    phone.save()
    phone.delete()

    assert list(
        PhoneNumberEvent.objects.filter(pgh_obj_id=pk)
        .order_by("pgh_id")
        .values_list("pgh_label", "phone_sanitized")
    ) == [
        ("insert", "+254712345678"),
        ("update", "+254733000111"),
        ("delete", "+254733000111"),
    ]


def test_registrant_id_added_and_removed_is_recorded():
    reg_id = models.RegistrantId.objects.create(
        registrant=IndividualFactory(), id_type=IdTypeFactory(name="National ID"), value="123456789"
    )
    pk = reg_id.pk

    models.RegistrantId.objects.filter(pk=pk).delete()

    assert list(
        RegistrantIdEvent.objects.filter(pgh_obj_id=pk)
        .order_by("pgh_id")
        .values_list("pgh_label", "value")
    ) == [
        ("insert", "123456789"),
        ("delete", "123456789"),
    ]


def test_membership_kind_added_and_removed_is_recorded():
    membership = MembershipFactory()
    head = models.MembershipKind.objects.get(name=HEAD_KIND_NAME)
    LinkEvent = link_event("MembershipKindLinkEvent")

    membership.kinds.add(head)
    membership.kinds.remove(head)

    assert list(
        LinkEvent.objects.order_by("pgh_id").values_list(
            "pgh_label", "groupmembership_id", "membershipkind_id"
        )
    ) == [("kind.add", membership.pk, head.pk), ("kind.remove", membership.pk, head.pk)]


def test_membership_ending_is_recorded_old_to_new():
    membership = MembershipFactory(start_date=timezone.now() - datetime.timedelta(days=3))
    when = timezone.now() - datetime.timedelta(days=1)

    services.membership_end(membership=membership, when=when, actor=None)

    label, diff = history(membership)[-1]
    assert label == "update"
    assert list(diff) == ["ended_date"]
    assert diff["ended_date"][0] is None
    assert datetime.datetime.fromisoformat(diff["ended_date"][1]) == when


def test_tag_added_and_removed_is_recorded():
    person = IndividualFactory()
    tag = RegistrantTagFactory(name="Disability")
    LinkEvent = link_event("RegistrantTagLinkEvent")

    person.tags.add(tag)
    person.tags.remove(tag)

    assert list(
        LinkEvent.objects.order_by("pgh_id").values_list(
            "pgh_label", "registrant_id", "registranttag_id"
        )
    ) == [
        ("tag.add", person.pk, tag.pk),
        ("tag.remove", person.pk, tag.pk),
    ]


def test_the_context_user_is_recorded(registry_admin):
    with pghistory.context(user=registry_admin.pk, url="/admin/g2p_registry_base/individual/add/"):
        person = services.registrant_save(
            registrant=models.Registrant(is_group=False, family_name="Otieno", given_name="Jane"),
            actor=registry_admin,
        )
        services.registrants_disable(
            registrant_ids=[person.pk], reason="Deceased", actor=registry_admin
        )

    events = list(MiddlewareEvents.objects.tracks(person).order_by("pgh_id"))
    assert [(e.pgh_label, e.user) for e in events] == [
        ("insert", registry_admin),
        ("update", registry_admin),
    ]
    assert events[0].pgh_context == {
        "user": registry_admin.pk,
        "url": "/admin/g2p_registry_base/individual/add/",
    }
    assert events[0].pgh_context_id == events[1].pgh_context_id


def test_changes_outside_a_context_have_no_user():
    person = IndividualFactory()

    (event,) = MiddlewareEvents.objects.tracks(person)

    assert (event.pgh_context_id, event.user) == (None, None)


def test_each_context_groups_its_own_changes(registrar, registry_admin):
    with pghistory.context(user=registrar.pk):
        first = IndividualFactory()
    with pghistory.context(user=registry_admin.pk):
        second = IndividualFactory()

    (first_event,) = MiddlewareEvents.objects.tracks(first)
    (second_event,) = MiddlewareEvents.objects.tracks(second)
    assert (first_event.user, second_event.user) == (registrar, registry_admin)
    assert first_event.pgh_context_id != second_event.pgh_context_id


def _indexed_columns(table: str) -> set[str]:
    """Single columns that lead an index of ``table``."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname FROM pg_index i"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
            " WHERE i.indrelid = %s::regclass",
            [table],
        )
        return {row[0] for row in cursor.fetchall()}


def test_event_tables_index_object_context_and_history_lookups_only():
    from django.apps import apps

    # the registrant History page looks events up by these copies of foreign keys
    assert _indexed_columns("g2p_registry_base_registrantidevent") == {
        "pgh_id", "pgh_obj_id", "pgh_context_id", "registrant_id",
    }  # fmt: skip
    assert _indexed_columns("g2p_registry_base_groupmembershipevent") == {
        "pgh_id", "pgh_obj_id", "pgh_context_id", "group_id", "individual_id",
    }  # fmt: skip
    assert _indexed_columns("g2p_registry_base_membershipkindlinkevent") == {
        "pgh_id", "pgh_context_id", "groupmembership_id",
    }  # fmt: skip
    # bulk-written program tables: only the object and the context
    for model in ("Entitlement", "Payment", "ProgramMembership", "CycleMembership"):
        event = apps.get_model("g2p_programs", model).pgh_event_model
        assert _indexed_columns(event._meta.db_table) == {
            "pgh_id", "pgh_obj_id", "pgh_context_id",
        }, model  # fmt: skip
