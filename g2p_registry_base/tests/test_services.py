"""Registry services: the one write path of admin, imports and APIs (``actor=None`` = system)."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from g2p_registry_base import models, services
from g2p_registry_base.choices import HEAD_KIND_NAME
from g2p_registry_base.factories import (
    GroupFactory,
    IndividualFactory,
    MembershipFactory,
    PhoneNumberFactory,
)

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def head_kind() -> models.MembershipKind:
    return models.MembershipKind.objects.get(name=HEAD_KIND_NAME)


def reloaded(obj):  # type: ignore[no-untyped-def]
    return type(obj).objects.get(pk=obj.pk)


def head_holders(group: models.Registrant) -> list[int]:
    return sorted(
        models.GroupMembership.objects.filter(group=group, kinds__name=HEAD_KIND_NAME).values_list(
            "pk", flat=True
        )
    )


def disabled_state(registrant: models.Registrant) -> tuple:  # type: ignore[type-arg]
    stored = reloaded(registrant)
    return stored.disabled, stored.disabled_reason, stored.disabled_by_id


# ------------------------------------------------------------------------------------------
# registrant_save / registrant_delete
# ------------------------------------------------------------------------------------------


def test_registrant_save_creates_a_validated_individual():
    person = models.Registrant(
        is_group=False, family_name="Otieno", given_name="Jane", gender_id="Female"
    )

    saved = services.registrant_save(registrant=person, actor=None)

    stored = reloaded(saved)
    assert (stored.name, stored.is_group, stored.is_registrant, stored.gender_id) == (
        "OTIENO, JANE",
        False,
        True,
        "Female",
    )


def test_registrant_save_refuses_invalid_data_and_writes_nothing():
    person = models.Registrant(is_group=False, family_name="Otieno", given_name="")

    with pytest.raises(ValidationError) as exc:
        services.registrant_save(registrant=person, actor=None)

    assert exc.value.message_dict == {"given_name": ["The given name is required."]}
    assert models.Registrant.objects.count() == 0


def test_registrant_save_updates_an_existing_registrant():
    person = IndividualFactory(family_name="Otieno", given_name="Jane")

    person.occupation = "Trader"
    services.registrant_save(registrant=person, actor=None)

    assert reloaded(person).occupation == "Trader"


def test_registrant_delete_removes_the_registrant_and_what_hangs_on_it():
    membership = MembershipFactory()
    person = membership.individual
    PhoneNumberFactory(registrant=person)

    services.registrant_delete(registrant=person, actor=None)

    assert not models.Registrant.objects.filter(pk=person.pk).exists()
    assert models.PhoneNumber.objects.count() == 0
    assert models.GroupMembership.objects.count() == 0
    assert models.Registrant.objects.filter(pk=membership.group_id).exists()


# ------------------------------------------------------------------------------------------
# registrants_disable / registrants_enable
# ------------------------------------------------------------------------------------------


def test_disabling_requires_a_reason(registry_admin):
    person = IndividualFactory()

    for reason in ("", "   ", None):
        with pytest.raises(ValidationError) as exc:
            services.registrants_disable(
                registrant_ids=[person.pk], reason=reason, actor=registry_admin
            )
        assert exc.value.message_dict == {
            "disabled_reason": ["A reason is required to disable a registrant."]
        }

    assert disabled_state(person) == (None, "", None)


def test_disabling_records_when_why_and_by_whom(registry_admin):
    first, second, untouched = IndividualFactory(), GroupFactory(), IndividualFactory()
    before = timezone.now()

    count = services.registrants_disable(
        registrant_ids=[first.pk, second.pk], reason="  Deceased  ", actor=registry_admin
    )

    assert count == 2
    for registrant in (first, second):
        disabled, reason, by = disabled_state(registrant)
        assert before <= disabled <= timezone.now()
        assert (reason, by) == ("Deceased", registry_admin.pk)
        assert reloaded(registrant).is_disabled is True
    assert disabled_state(untouched) == (None, "", None)


def test_disabling_by_the_system_records_no_user():
    person = IndividualFactory()

    assert (
        services.registrants_disable(registrant_ids=[person.pk], reason="Duplicate", actor=None)
        == 1
    )

    disabled, reason, by = disabled_state(person)
    assert (disabled is not None, reason, by) == (True, "Duplicate", None)


def test_disabling_twice_keeps_the_original_date_reason_and_author(registry_admin, admin_user):
    person = IndividualFactory()
    services.registrants_disable(
        registrant_ids=[person.pk], reason="Deceased", actor=registry_admin
    )
    first = disabled_state(person)

    count = services.registrants_disable(
        registrant_ids=[person.pk], reason="Moved away", actor=admin_user
    )

    assert count == 0
    assert disabled_state(person) == first
    assert first[1:] == ("Deceased", registry_admin.pk)


def test_disabling_counts_only_registrants_disabled_now(registry_admin):
    already, fresh = IndividualFactory(), IndividualFactory()
    services.registrants_disable(
        registrant_ids=[already.pk], reason="Deceased", actor=registry_admin
    )

    count = services.registrants_disable(
        registrant_ids=[already.pk, fresh.pk, 999_999_999], reason="Duplicate", actor=registry_admin
    )

    assert count == 1
    assert disabled_state(already)[1] == "Deceased"
    assert disabled_state(fresh)[1] == "Duplicate"


def test_enabling_clears_date_reason_and_author(registry_admin):
    person, other = IndividualFactory(), IndividualFactory()
    services.registrants_disable(
        registrant_ids=[person.pk, other.pk], reason="Deceased", actor=registry_admin
    )

    count = services.registrants_enable(registrant_ids=[person.pk], actor=registry_admin)

    assert count == 1
    assert disabled_state(person) == (None, "", None)
    assert disabled_state(other)[1:] == ("Deceased", registry_admin.pk)
    assert services.registrants_enable(registrant_ids=[person.pk], actor=registry_admin) == 0


def test_disabled_member_no_longer_counts_and_counts_again_once_enabled(registry_admin):
    from g2p_registry_base.selectors import group_member_count

    membership = MembershipFactory()
    services.registrants_disable(
        registrant_ids=[membership.individual_id], reason="Deceased", actor=registry_admin
    )
    assert group_member_count(group_id=membership.group_id) == 0

    services.registrants_enable(registrant_ids=[membership.individual_id], actor=registry_admin)
    assert group_member_count(group_id=membership.group_id) == 1


# ------------------------------------------------------------------------------------------
# membership_save: unique kinds
# ------------------------------------------------------------------------------------------


def test_membership_save_creates_a_membership_with_kinds():
    group, person = GroupFactory(), IndividualFactory()
    spouse = models.MembershipKind.objects.create(name="Spouse")

    membership = services.membership_save(
        membership=models.GroupMembership(group=group, individual=person),
        kinds=[head_kind(), spouse],
        actor=None,
    )

    assert sorted(reloaded(membership).kinds.values_list("name", flat=True)) == ["Head", "Spouse"]


def test_membership_save_refuses_a_second_head_and_writes_nothing():
    group = GroupFactory()
    first = services.membership_save(
        membership=models.GroupMembership(group=group, individual=IndividualFactory()),
        kinds=[head_kind()],
        actor=None,
    )
    person = IndividualFactory()

    with pytest.raises(ValidationError) as exc:
        services.membership_save(
            membership=models.GroupMembership(group=group, individual=person),
            kinds=[head_kind()],
            actor=None,
        )

    assert exc.value.message_dict == {"kinds": ["Only one Head is allowed per group"]}
    assert not models.GroupMembership.objects.filter(individual=person).exists()
    assert head_holders(group) == [first.pk]


def test_membership_save_refuses_giving_head_to_an_existing_member():
    group = GroupFactory()
    head = MembershipFactory(group=group)
    head.kinds.add(head_kind())
    child_kind = models.MembershipKind.objects.create(name="Child")
    member = MembershipFactory(group=group)
    member.kinds.add(child_kind)

    with pytest.raises(ValidationError) as exc:
        services.membership_save(membership=member, kinds=[head_kind()], actor=None)

    assert exc.value.message_dict == {"kinds": ["Only one Head is allowed per group"]}
    assert list(reloaded(member).kinds.all()) == [child_kind]
    assert head_holders(group) == [head.pk]


def test_membership_save_keeps_the_head_when_resaving_the_head_itself():
    group = GroupFactory()
    head = services.membership_save(
        membership=models.GroupMembership(group=group, individual=IndividualFactory()),
        kinds=[head_kind()],
        actor=None,
    )

    services.membership_save(membership=head, kinds=[head_kind()], actor=None)

    assert head_holders(group) == [head.pk]


def test_membership_save_refuses_reopening_an_ended_head_when_another_head_exists():
    group = GroupFactory()
    ended_at = timezone.now() - DAY
    former = MembershipFactory(
        group=group, start_date=timezone.now() - 10 * DAY, ended_date=ended_at
    )
    former.kinds.add(head_kind())
    current = services.membership_save(
        membership=models.GroupMembership(group=group, individual=IndividualFactory()),
        kinds=[head_kind()],
        actor=None,
    )

    former.ended_date = None
    with pytest.raises(ValidationError) as exc:
        services.membership_save(membership=former, actor=None)

    assert exc.value.message_dict == {"kinds": ["Only one Head is allowed per group"]}
    assert reloaded(former).ended_date == ended_at
    assert list(models.GroupMembership.objects.current().filter(kinds__name=HEAD_KIND_NAME)) == [
        current
    ]


def test_membership_save_refuses_reopening_with_kinds_given():
    group = GroupFactory()
    ended_at = timezone.now() - DAY
    former = MembershipFactory(
        group=group, start_date=timezone.now() - 10 * DAY, ended_date=ended_at
    )
    former.kinds.add(head_kind())
    MembershipFactory(group=group).kinds.add(head_kind())

    former.ended_date = None
    with pytest.raises(ValidationError) as exc:
        services.membership_save(membership=former, kinds=[head_kind()], actor=None)

    assert exc.value.message_dict == {"kinds": ["Only one Head is allowed per group"]}
    assert reloaded(former).ended_date == ended_at


def test_membership_save_refuses_a_second_head_while_the_first_has_not_ended_yet():
    group = GroupFactory()
    leaving = services.membership_save(
        membership=models.GroupMembership(
            group=group, individual=IndividualFactory(), ended_date=timezone.now() + 30 * DAY
        ),
        kinds=[head_kind()],
        actor=None,
    )
    person = IndividualFactory()

    with pytest.raises(ValidationError) as exc:
        services.membership_save(
            membership=models.GroupMembership(group=group, individual=person),
            kinds=[head_kind()],
            actor=None,
        )

    assert exc.value.message_dict == {"kinds": ["Only one Head is allowed per group"]}
    assert not models.GroupMembership.objects.filter(individual=person).exists()
    assert head_holders(group) == [leaving.pk]


def test_ending_the_head_lets_another_member_become_head():
    group = GroupFactory()
    former = services.membership_save(
        membership=models.GroupMembership(
            group=group, individual=IndividualFactory(), start_date=timezone.now() - DAY
        ),
        kinds=[head_kind()],
        actor=None,
    )

    services.membership_end(membership=former, actor=None)
    successor = services.membership_save(
        membership=models.GroupMembership(group=group, individual=IndividualFactory()),
        kinds=[head_kind()],
        actor=None,
    )

    assert reloaded(former).is_ended is True
    assert head_holders(group) == sorted([former.pk, successor.pk])
    assert list(models.GroupMembership.objects.current().filter(group=group)) == [successor]


def test_membership_end_sets_the_given_date():
    membership = MembershipFactory(start_date=timezone.now() - 10 * DAY)
    when = timezone.now() - DAY

    services.membership_end(membership=membership, when=when, actor=None)

    assert reloaded(membership).ended_date == when


def test_membership_end_before_start_is_refused_and_unchanged():
    start = timezone.now() - DAY
    membership = MembershipFactory(start_date=start)

    with pytest.raises(ValidationError) as exc:
        services.membership_end(membership=membership, when=start - DAY, actor=None)

    assert exc.value.message_dict == {"ended_date": ["End Date cannot be earlier than Start Date"]}
    assert reloaded(membership).ended_date is None


def test_membership_save_refuses_a_duplicate_member():
    membership = MembershipFactory()

    with pytest.raises(ValidationError) as exc:
        services.membership_save(
            membership=models.GroupMembership(
                group=membership.group, individual=membership.individual
            ),
            kinds=[head_kind()],
            actor=None,
        )

    assert exc.value.messages == ["Duplication of Member is not allowed"]
    assert models.GroupMembership.objects.count() == 1
    assert head_holders(membership.group) == []


def test_membership_save_without_kinds_leaves_kinds_alone():
    membership = MembershipFactory()
    membership.kinds.add(head_kind())

    membership.start_date = timezone.now() - DAY
    services.membership_save(membership=membership, actor=None)

    assert list(reloaded(membership).kinds.all()) == [head_kind()]


def test_membership_save_with_empty_kinds_clears_them():
    membership = MembershipFactory()
    membership.kinds.add(head_kind())

    services.membership_save(membership=membership, kinds=[], actor=None)

    assert reloaded(membership).kinds.count() == 0


# ------------------------------------------------------------------------------------------
# IDs, phones, relationships
# ------------------------------------------------------------------------------------------


def test_reg_id_save_validates_the_pattern():
    id_type = models.IdType.objects.create(name="National ID", id_validation="[0-9]{9}")
    person = IndividualFactory()

    with pytest.raises(ValidationError) as exc:
        services.reg_id_save(
            reg_id=models.RegistrantId(registrant=person, id_type=id_type, value="12345678"),
            actor=None,
        )
    assert exc.value.message_dict == {
        "value": ["The provided National ID ID '12345678' is invalid."]
    }
    assert models.RegistrantId.objects.count() == 0

    services.reg_id_save(
        reg_id=models.RegistrantId(registrant=person, id_type=id_type, value="123456789"),
        actor=None,
    )
    assert list(person.reg_ids.values_list("value", flat=True)) == ["123456789"]


def test_phone_save_normalises_the_number():
    phone = services.phone_save(
        phone=models.PhoneNumber(registrant=IndividualFactory(), phone_no="0712 345 678"),
        actor=None,
    )

    assert reloaded(phone).phone_sanitized == "+254712345678"


def test_phones_set_disabled_records_when_and_by_whom(registry_admin):
    phone, other = PhoneNumberFactory(), PhoneNumberFactory()
    before = timezone.now()

    count = services.phones_set_disabled(phone_ids=[phone.pk], disabled=True, actor=registry_admin)

    stored = reloaded(phone)
    assert count == 1
    assert before <= stored.disabled <= timezone.now()
    assert stored.disabled_by_id == registry_admin.pk
    assert (reloaded(other).disabled, reloaded(other).disabled_by_id) == (None, None)


def test_phones_set_disabled_twice_keeps_the_first_date(registry_admin, admin_user):
    phone = PhoneNumberFactory()
    services.phones_set_disabled(phone_ids=[phone.pk], disabled=True, actor=registry_admin)
    first = reloaded(phone)

    count = services.phones_set_disabled(phone_ids=[phone.pk], disabled=True, actor=admin_user)

    stored = reloaded(phone)
    assert count == 0
    assert (stored.disabled, stored.disabled_by_id) == (first.disabled, registry_admin.pk)


def test_phones_set_disabled_false_enables_again(registry_admin):
    phone = PhoneNumberFactory()
    services.phones_set_disabled(phone_ids=[phone.pk], disabled=True, actor=registry_admin)

    assert (
        services.phones_set_disabled(phone_ids=[phone.pk], disabled=False, actor=registry_admin)
        == 1
    )
    assert (
        services.phones_set_disabled(phone_ids=[phone.pk], disabled=False, actor=registry_admin)
        == 0
    )

    stored = reloaded(phone)
    assert (stored.disabled, stored.disabled_by_id) == (None, None)
    assert stored.phone_sanitized == phone.phone_sanitized


def test_phones_set_disabled_refused_to_a_viewer(viewer):
    phone = PhoneNumberFactory()

    with pytest.raises(services.PermissionDenied):
        services.phones_set_disabled(phone_ids=[phone.pk], disabled=True, actor=viewer)

    assert reloaded(phone).disabled is None


def test_relationship_save_refuses_an_overlap():
    a, b = IndividualFactory(), IndividualFactory()
    spouse = models.RelationshipType.objects.create(name="Spouse of", name_inverse="Spouse of")
    services.relationship_save(
        relationship=models.Relationship(source=a, destination=b, relation=spouse), actor=None
    )

    with pytest.raises(ValidationError) as exc:
        services.relationship_save(
            relationship=models.Relationship(source=a, destination=b, relation=spouse), actor=None
        )

    assert list(exc.value.message_dict) == ["relation"]
    assert models.Relationship.objects.count() == 1


# ------------------------------------------------------------------------------------------
# database errors turned into field errors
# ------------------------------------------------------------------------------------------


def test_validation_error_from_db_names_the_field_of_a_trigger_message():
    from django.db import IntegrityError, transaction

    group = GroupFactory()
    MembershipFactory(group=group).kinds.add(head_kind())
    second = MembershipFactory(group=group)

    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        second.kinds.add(head_kind())

    error = services.validation_error_from_db(caught.value)
    assert error.message_dict == {"kinds": ["Only one Head is allowed per group"]}
