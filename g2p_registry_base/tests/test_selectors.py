"""Registry reads: search, lists, member counts and dashboard figures."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from g2p_registry_base import models, selectors
from g2p_registry_base.choices import HEAD_KIND_NAME
from g2p_registry_base.factories import (
    GroupFactory,
    IdTypeFactory,
    IndividualFactory,
    MembershipFactory,
    PhoneNumberFactory,
    RegistrantIdFactory,
)
from g2p_registry_base.querysets import years_before

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def search(term: str) -> list[int]:
    return sorted(
        selectors.registrant_search(
            queryset=models.Registrant.objects.all(), term=term
        ).values_list("pk", flat=True)
    )


def disable(*registrants: models.Registrant) -> None:
    models.Registrant.objects.filter(pk__in=[r.pk for r in registrants]).update(
        disabled=timezone.now(), disabled_reason="Deceased"
    )


# ------------------------------------------------------------------------------------------
# registrant_search
# ------------------------------------------------------------------------------------------


def test_search_by_name_fragment_ignores_case():
    jane = IndividualFactory(family_name="Otieno", given_name="Jane")
    IndividualFactory(family_name="Wanjiru", given_name="Mary")
    household = GroupFactory(name="Otieno Household")

    assert search("otie") == sorted([jane.pk, household.pk])
    assert search("OTIENO, JA") == [jane.pk]
    assert search("  jane ") == [jane.pk]
    assert search("household") == [household.pk]
    assert search("nobody") == []


def test_search_by_name_handles_accents():
    emile = IndividualFactory(family_name="Lefèvre", given_name="Émile")

    assert search("émile") == [emile.pk]
    assert search("LEFÈVRE") == [emile.pk]


def test_search_by_exact_id_value():
    national = IdTypeFactory(name="National ID", id_validation="[0-9]{9}")
    holder = RegistrantIdFactory(id_type=national, value="123456789").registrant
    RegistrantIdFactory(id_type=national, value="987654321")

    assert search("123456789") == [holder.pk]
    assert search("1234567") == []


def test_search_by_id_value_finds_every_holder():
    national = IdTypeFactory(name="National ID")
    first = RegistrantIdFactory(id_type=national, value="A-1").registrant
    second = RegistrantIdFactory(id_type=national, value="A-1").registrant

    assert search("A-1") == sorted([first.pk, second.pk])


def test_search_by_phone_in_e164():
    owner = PhoneNumberFactory(phone_no="0712 345 678").registrant
    PhoneNumberFactory(phone_no="0733 000 111")

    assert search("+254712345678") == [owner.pk]


def test_search_by_trailing_local_digits():
    owner = PhoneNumberFactory(phone_no="+254712345678").registrant
    PhoneNumberFactory(phone_no="+254733000111")

    assert search("712345678") == [owner.pk]
    assert search("712 345 678") == [owner.pk]
    assert search("345678") == [owner.pk]
    assert search("45678") == []  # fewer than six digits: too loose to match phones


def test_search_by_phone_in_local_format_with_trunk_prefix():
    # What an officer types (and what phone_no stores): the national format with its leading 0.
    owner = PhoneNumberFactory(phone_no="+254712345678").registrant
    PhoneNumberFactory(phone_no="+254733000111")

    assert search("0712345678") == [owner.pk]
    assert search("0712 345 678") == [owner.pk]


def test_search_with_empty_term_returns_the_queryset_unchanged():
    people = [IndividualFactory(), IndividualFactory()]

    assert search("") == sorted(p.pk for p in people)
    assert search("   ") == sorted(p.pk for p in people)


def test_search_is_one_query_and_each_registrant_appears_once(django_assert_num_queries):
    person = IndividualFactory(family_name="Otieno", given_name="Jane")
    PhoneNumberFactory(registrant=person, phone_no="+254712345678")
    PhoneNumberFactory(registrant=person, phone_no="+254733000111")
    RegistrantIdFactory(registrant=person, value="712345678")

    with django_assert_num_queries(1):
        found = list(
            selectors.registrant_search(queryset=models.Registrant.objects.all(), term="712345678")
        )

    assert found == [person]


# ------------------------------------------------------------------------------------------
# registrant_list
# ------------------------------------------------------------------------------------------


def test_registrant_list_filters_kind_disabled_age_and_search():
    today = timezone.localdate()
    child = IndividualFactory(
        family_name="Otieno", given_name="Tom", birthdate=years_before(today, 10)
    )
    adult = IndividualFactory(
        family_name="Otieno", given_name="Jane", birthdate=years_before(today, 30)
    )
    elder = IndividualFactory(
        family_name="Wanjiru", given_name="Mary", birthdate=years_before(today, 70)
    )
    household = GroupFactory(name="Otieno Household")
    outsider = IndividualFactory()
    models.Registrant.objects.filter(pk=outsider.pk).update(is_registrant=False)
    disable(elder)

    def ids(**kwargs):  # type: ignore[no-untyped-def]
        return sorted(selectors.registrant_list(**kwargs).values_list("pk", flat=True))

    assert ids() == sorted([child.pk, adult.pk, elder.pk, household.pk])
    assert ids(is_group=True) == [household.pk]
    assert ids(is_group=False, include_disabled=False) == sorted([child.pk, adult.pk])
    assert ids(min_age=18) == sorted([adult.pk, elder.pk])
    assert ids(min_age=18, max_age=59) == [adult.pk]
    assert ids(max_age=17) == [child.pk]
    assert ids(search="otieno") == sorted([child.pk, adult.pk, household.pk])
    assert ids(search="otieno", min_age=18) == [adult.pk]


# ------------------------------------------------------------------------------------------
# member counts
# ------------------------------------------------------------------------------------------


def member_counts() -> dict[int, int]:
    return dict(
        models.Registrant.objects.groups().with_member_count().values_list("pk", "member_count")
    )


def test_member_counts_ignore_ended_memberships_and_disabled_individuals():
    group = GroupFactory()
    MembershipFactory(group=group)
    MembershipFactory(group=group)
    MembershipFactory(
        group=group, start_date=timezone.now() - 10 * DAY, ended_date=timezone.now() - DAY
    )
    disabled = MembershipFactory(group=group)
    disable(disabled.individual)

    assert member_counts() == {group.pk: 2}
    assert selectors.group_member_count(group_id=group.pk) == 2


def test_member_counts_include_a_membership_ending_in_the_future():
    group = GroupFactory()
    MembershipFactory(group=group, ended_date=timezone.now() + DAY)

    assert member_counts() == {group.pk: 1}
    assert selectors.group_member_count(group_id=group.pk) == 1


def test_member_counts_count_a_member_with_two_kinds_once():
    group = GroupFactory()
    spouse = models.MembershipKind.objects.create(name="Spouse")
    child = models.MembershipKind.objects.create(name="Child")
    head_and_more = MembershipFactory(group=group)
    head_and_more.kinds.add(models.MembershipKind.objects.get(name=HEAD_KIND_NAME), spouse)
    MembershipFactory(group=group).kinds.add(child, spouse)

    assert member_counts() == {group.pk: 2}
    assert selectors.group_member_count(group_id=group.pk) == 2


def test_member_counts_are_zero_for_an_empty_group_and_per_group():
    empty = GroupFactory()
    small = GroupFactory()
    big = GroupFactory()
    MembershipFactory(group=small)
    for _ in range(3):
        MembershipFactory(group=big)

    assert member_counts() == {empty.pk: 0, small.pk: 1, big.pk: 3}
    assert [selectors.group_member_count(group_id=g.pk) for g in (empty, small, big)] == [0, 1, 3]


def test_member_count_annotation_is_one_query(django_assert_num_queries):
    for _ in range(5):
        MembershipFactory()

    with django_assert_num_queries(1):
        counts = [g.member_count for g in models.Registrant.objects.groups().with_member_count()]

    assert counts == [1, 1, 1, 1, 1]


# ------------------------------------------------------------------------------------------
# registry_counts
# ------------------------------------------------------------------------------------------


def test_registry_counts_are_exact(django_assert_num_queries):
    people = [IndividualFactory() for _ in range(3)]
    groups = [GroupFactory(), GroupFactory()]
    outsider = IndividualFactory()
    models.Registrant.objects.filter(pk=outsider.pk).update(is_registrant=False)
    disable(people[0], groups[1])

    with django_assert_num_queries(1):
        counts = selectors.registry_counts()

    assert counts == {"individuals": 3, "groups": 2, "disabled": 2}


def test_registry_counts_of_an_empty_registry():
    assert selectors.registry_counts() == {"individuals": 0, "groups": 0, "disabled": 0}
