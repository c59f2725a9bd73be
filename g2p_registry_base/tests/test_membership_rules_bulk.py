"""The membership rules hold for set-based SQL too: one statement writing many rows is checked
as a whole, and a violation anywhere in it writes nothing."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from g2p_registry_base.factories import GroupFactory, IndividualFactory
from g2p_registry_base.models import GroupMembership, MembershipKind

pytestmark = pytest.mark.django_db(transaction=True)


def _insert_memberships(pairs: list[tuple[int, int]]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO g2p_registry_base_groupmembership (group_id, individual_id, start_date) "
            "SELECT g, i, now() FROM unnest(%s::bigint[], %s::bigint[]) AS t(g, i)",
            [[g for g, _ in pairs], [i for _, i in pairs]],
        )


def _insert_heads(membership_ids: list[int]) -> None:
    head = MembershipKind.objects.get(name="Head")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO g2p_registry_base_groupmembership_kinds "
            "(groupmembership_id, membershipkind_id) SELECT m, %s FROM unnest(%s::bigint[]) m",
            [head.pk, membership_ids],
        )


def test_one_statement_of_many_memberships_and_heads_is_accepted() -> None:
    groups = [GroupFactory() for _ in range(30)]
    people = [IndividualFactory() for _ in range(60)]
    _insert_memberships([(groups[i // 2].pk, p.pk) for i, p in enumerate(people)])
    memberships = list(GroupMembership.objects.order_by("pk"))
    _insert_heads([m.pk for m in memberships[::2]])
    assert GroupMembership.objects.count() == 60
    assert GroupMembership.kinds.through.objects.count() == 30


def test_a_wrong_party_anywhere_in_the_statement_writes_nothing() -> None:
    group, other_group = GroupFactory(), GroupFactory()
    people = [IndividualFactory() for _ in range(3)]
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        _insert_memberships(
            [(group.pk, people[0].pk), (group.pk, other_group.pk), (group.pk, people[1].pk)]
        )
    assert f"individual: registrant {other_group.pk} is not a registrant individual" in str(
        exc.value
    )
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        _insert_memberships([(group.pk, people[0].pk), (people[2].pk, people[1].pk)])
    assert f"group: registrant {people[2].pk} is not a registrant group" in str(exc.value)
    assert GroupMembership.objects.count() == 0


def test_two_heads_of_one_group_in_one_statement_are_refused() -> None:
    groups = [GroupFactory() for _ in range(3)]
    people = [IndividualFactory() for _ in range(4)]
    _insert_memberships(
        [(groups[0].pk, people[0].pk), (groups[1].pk, people[1].pk),
         (groups[1].pk, people[2].pk), (groups[2].pk, people[3].pk)]
    )  # fmt: skip
    ids = list(GroupMembership.objects.order_by("pk").values_list("pk", flat=True))
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        _insert_heads(ids)
    assert "kinds: Only one Head is allowed per group" in str(exc.value)
    assert GroupMembership.kinds.through.objects.count() == 0


def test_a_second_head_added_later_in_bulk_is_refused() -> None:
    group = GroupFactory()
    first, second = IndividualFactory(), IndividualFactory()
    _insert_memberships([(group.pk, first.pk), (group.pk, second.pk)])
    one, two = GroupMembership.objects.order_by("pk").values_list("pk", flat=True)
    _insert_heads([one])
    with pytest.raises(IntegrityError), transaction.atomic():
        _insert_heads([two])
    assert list(
        GroupMembership.kinds.through.objects.values_list("groupmembership_id", flat=True)
    ) == [one]


def test_moving_a_head_link_onto_a_group_that_has_one_is_refused() -> None:
    groups = [GroupFactory(), GroupFactory()]
    people = [IndividualFactory(), IndividualFactory()]
    _insert_memberships([(groups[0].pk, people[0].pk), (groups[1].pk, people[1].pk)])
    first, second = GroupMembership.objects.order_by("pk").values_list("pk", flat=True)
    _insert_heads([first, second])
    member = IndividualFactory()
    _insert_memberships([(groups[0].pk, member.pk)])
    extra = GroupMembership.objects.get(individual=member).pk
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE g2p_registry_base_groupmembership_kinds SET groupmembership_id = %s "
                "WHERE groupmembership_id = %s",
                [extra, second],
            )
    assert "Only one Head is allowed per group" in str(exc.value)
    assert sorted(
        GroupMembership.kinds.through.objects.values_list("groupmembership_id", flat=True)
    ) == [first, second]
