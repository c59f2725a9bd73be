"""Demo data: exact volumes, valid and realistic content, fast, deterministic, loaded once."""

from __future__ import annotations

import re
import time
from collections import Counter

import phonenumbers
import pytest
from django.apps import apps
from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from faker import Faker

from g2p_registry_base import models
from g2p_registry_base.choices import HEAD_KIND_NAME
from g2p_registry_base.demo import (
    CHILD_KIND,
    HOUSEHOLD_NUMBER,
    LOCALES,
    NATIONAL_ID,
    SPOUSE_KIND,
    demo_load,
)

pytestmark = pytest.mark.django_db

DEMO_MODELS = [
    models.Registrant,
    models.RegistrantId,
    models.PhoneNumber,
    models.GroupMembership,
    models.GroupMembership.kinds.through,
    models.Registrant.tags.through,
    models.Relationship,
    models.BankAccount,
    models.IdType,
    models.MembershipKind,
    models.RegistrantTag,
    models.RelationshipType,
    models.Bank,
]


def snapshot() -> dict[str, int]:
    counts = {m._meta.label: m.objects.count() for m in DEMO_MODELS}
    counts["events"] = sum(
        m.objects.count()
        for m in apps.get_app_config("g2p_registry_base").get_models()
        if m.__name__.endswith("Event")
    )
    return counts


def person_provider(locale: str):  # type: ignore[no-untyped-def]
    return next(
        p
        for p in Faker(locale).providers
        if type(p).__module__.startswith("faker.providers.person")
    )


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """The 2,000-people demo, loaded once for this module's read-only checks, rolled back after.

    Each test still runs in its own savepoint on top of it (pytest-django's ``db``), so what a
    test writes disappears after it; the tests that load more data use ``force`` and compare
    with what was there before, so they hold whether or not this fixture is active.
    """
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield demo_load()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def test_demo_creates_2000_individuals_in_500_households(loaded):
    counts = {
        "individuals": models.Registrant.objects.individuals().count(),
        "groups": models.Registrant.objects.groups().count(),
        "memberships": models.GroupMembership.objects.count(),
    }

    assert loaded == 2000
    assert counts == {"individuals": 2000, "groups": 500, "memberships": 2000}


def test_demo_households_have_1_to_8_members_each_in_one_household(loaded):
    sizes = list(
        models.Registrant.objects.groups()
        .annotate(n=Count("group_memberships"))
        .values_list("n", flat=True)
    )

    assert (min(sizes), max(sizes), sum(sizes)) == (1, 8, 2000)
    assert len(set(sizes)) == 8
    assert models.GroupMembership.objects.values("individual").distinct().count() == 2000
    info_sizes = dict(
        models.Registrant.objects.groups().values_list("pk", "additional_g2p_info__household_size")
    )
    actual = dict(
        models.Registrant.objects.groups()
        .annotate(n=Count("group_memberships"))
        .values_list("pk", "n")
    )
    assert info_sizes == actual


def test_demo_every_household_has_exactly_one_head(loaded):
    heads = Counter(
        models.GroupMembership.objects.current()
        .filter(kinds__name=HEAD_KIND_NAME)
        .values_list("group_id", flat=True)
    )

    assert len(heads) == 500
    assert set(heads.values()) == {1}
    assert set(heads) == set(models.Registrant.objects.groups().values_list("pk", flat=True))


def test_demo_other_members_have_no_kind_or_a_non_unique_kind(loaded):
    kinds = Counter(
        models.GroupMembership.kinds.through.objects.values_list(
            "membershipkind__name", "membershipkind__is_unique"
        )
    )
    without_kind = models.GroupMembership.objects.filter(kinds__isnull=True).count()

    assert set(kinds) == {
        ("Head", True),
        (SPOUSE_KIND, False),
        (CHILD_KIND, False),
        ("Other relative", False),
    }
    assert kinds[("Head", True)] == 500
    assert without_kind > 0
    assert sum(kinds.values()) + without_kind == 2000


def test_demo_household_members_share_the_family_name(loaded):
    families = (
        models.GroupMembership.objects.values("group_id")
        .annotate(n=Count("individual__family_name", distinct=True))
        .values_list("n", flat=True)
    )

    assert set(families) == {1}
    for group_name, family in models.GroupMembership.objects.values_list(
        "group__name", "individual__family_name"
    )[:200]:
        assert group_name == f"{family} Household"


def test_demo_names_come_from_several_locales(loaded):
    family_names = set(
        models.Registrant.objects.individuals().values_list("family_name", flat=True)
    )
    matches = {
        locale: family_names & set(person_provider(locale).last_names) for locale, _share in LOCALES
    }

    assert {locale for locale, names in matches.items() if names} == {"en_KE", "sw", "fr_FR"}
    assert len(matches["fr_FR"] - matches["en_KE"]) >= 10
    assert len(matches["en_KE"] - matches["fr_FR"]) >= 10


def test_demo_names_and_genders_agree(loaded):
    female = set().union(*(person_provider(loc).first_names_female for loc, _ in LOCALES))
    male = set().union(*(person_provider(loc).first_names_male for loc, _ in LOCALES))
    rows = list(
        models.Registrant.objects.individuals().values_list(
            "given_name", "family_name", "addl_name", "gender", "name"
        )
    )

    assert {gender for *_parts, gender, _name in rows} == {"Female", "Male"}
    for given, family, addl, gender, name in rows:
        assert given in (female if gender == "Female" else male), (given, gender)
        assert name == models.individual_full_name(
            family_name=family, given_name=given, addl_name=addl
        )
    assert (
        models.Registrant.objects.groups().filter(~Q(gender=None) | ~Q(given_name="")).count() == 0
    )


def test_demo_dates_are_plausible(loaded):
    today = timezone.localdate()
    people = models.Registrant.objects.individuals()
    heads = people.filter(individual_memberships__kinds__name=HEAD_KIND_NAME).with_age()
    head_ages = heads.aggregate(lo=Min("age"), hi=Max("age"))

    assert (head_ages["lo"] >= 20, head_ages["hi"] <= 80) == (True, True)
    assert people.filter(birthdate__gt=today).count() == 0
    assert models.Registrant.objects.filter(registration_date__gt=today).count() == 0
    assert people.filter(registration_date__lt=models.F("birthdate")).count() == 0
    # Children are younger than the head of their household.
    child_kind = models.MembershipKind.objects.get(name=CHILD_KIND)
    head_birth = dict(
        models.GroupMembership.objects.filter(kinds__name=HEAD_KIND_NAME).values_list(
            "group_id", "individual__birthdate"
        )
    )
    children = models.GroupMembership.objects.filter(kinds=child_kind).values_list(
        "group_id", "individual__birthdate"
    )
    assert all(birth > head_birth[group] for group, birth in children)
    assert models.Registrant.objects.groups().filter(registration_date=None).count() == 0


def test_demo_phones_are_valid_e164(loaded):
    phones = list(
        models.PhoneNumber.objects.values_list(
            "registrant_id", "phone_no", "phone_sanitized", "country_code"
        )
    )

    assert len(phones) >= 1000
    assert len({registrant for registrant, *_ in phones}) > 1000  # most adults have a phone
    for _registrant, typed, e164, country in phones:
        assert e164.startswith("+254")
        parsed = phonenumbers.parse(e164)
        assert phonenumbers.is_valid_number(parsed), e164
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == e164
        assert models.normalize_phone(typed, region=country) == e164
    assert len({e164 for *_rest, e164, _c in phones}) == len(phones)


def test_demo_ids_match_their_type_pattern_in_full(loaded):
    national = models.IdType.objects.get(name=NATIONAL_ID[0])
    household = models.IdType.objects.get(name=HOUSEHOLD_NUMBER[0])
    rows = list(
        models.RegistrantId.objects.values_list(
            "id_type__id_validation", "value", "registrant__is_group", "id_type"
        )
    )

    assert (national.id_validation, household.id_validation) == (r"[0-9]{9}", r"HH-[0-9]{6}")
    for pattern, value, _is_group, _type in rows:
        assert re.fullmatch(pattern, value), (pattern, value)
    assert {(is_group, t) for *_x, is_group, t in rows} == {
        (False, national.pk),
        (True, household.pk),
    }
    assert sum(1 for *_x, is_group, _t in rows if is_group) == 500
    assert len({v for _p, v, *_rest in rows}) == len(rows)


def test_demo_has_tags_info_disabled_relationships_and_bank_accounts(loaded):
    tags = dict(
        models.RegistrantTag.objects.annotate(n=Count("registrants")).values_list("name", "n")
    )
    disabled = models.Registrant.objects.filter(disabled__isnull=False)
    relations = Counter(models.Relationship.objects.values_list("relation__name", flat=True))

    assert set(tags) == {"Urban", "Rural", "Disability", "Female-headed", "Elderly"}
    assert all(n > 0 for n in tags.values())
    assert disabled.count() == 10
    assert disabled.filter(disabled_reason="").count() == 0
    assert set(relations) == {"Spouse of", "Parent of"}
    assert models.RelationshipType.objects.get(name="Parent of").name_inverse == "Child of"
    assert models.BankAccount.objects.count() > 0
    assert (
        models.Registrant.objects.groups().filter(additional_g2p_info__has_key="dwelling").count()
        == 500
    )
    assert models.Registrant.objects.individuals().exclude(email="").count() > 0


def test_demo_is_audited_under_the_demo_context(loaded):
    event = models.Registrant.pgh_event_model.objects.select_related("pgh_context").first()  # type: ignore[attr-defined]

    assert event.pgh_context.metadata == {"source": "demo"}
    assert models.Registrant.pgh_event_model.objects.count() == 2500  # type: ignore[attr-defined]


def test_demo_records_pass_full_clean(loaded):
    samples = [
        models.Registrant.objects.individuals().order_by("?")[:50],
        models.Registrant.objects.groups().order_by("?")[:50],
        models.Registrant.objects.filter(disabled__isnull=False),
        models.RegistrantId.objects.order_by("?")[:50],
        models.PhoneNumber.objects.order_by("?")[:50],
        models.GroupMembership.objects.order_by("?")[:50],
        models.Relationship.objects.order_by("?")[:50],
        models.BankAccount.objects.order_by("?")[:50],
    ]
    checked = 0
    for sample in samples:
        for record in sample:
            before = {f.attname: getattr(record, f.attname) for f in record._meta.concrete_fields}
            record.full_clean()
            after = {f.attname: getattr(record, f.attname) for f in record._meta.concrete_fields}
            assert after == before, record  # nothing derived differently from what was bulk-written
            checked += 1

    assert checked >= 6 * 50


def test_demo_second_call_returns_0_and_changes_nothing(loaded):
    before = snapshot()

    assert demo_load() == 0
    assert demo_load(individuals=10) == 0
    assert snapshot() == before


def test_demo_does_nothing_when_any_registrant_exists():
    models.Registrant(is_group=True, name="Existing Household").save()
    before = snapshot()

    assert demo_load() == 0
    assert snapshot() == before


def test_demo_force_loads_more_people():
    before = {
        "individuals": models.Registrant.objects.individuals().count(),
        "groups": models.Registrant.objects.groups().count(),
    }
    last_pk = models.Registrant.objects.aggregate(m=Max("pk"))["m"] or 0

    first = demo_load(individuals=100, force=True)
    second = demo_load(individuals=100, force=True)

    assert (first, second) == (100, 100)
    assert models.Registrant.objects.individuals().count() == before["individuals"] + 200
    assert models.Registrant.objects.groups().count() == before["groups"] + 50
    heads = Counter(
        models.GroupMembership.objects.filter(
            kinds__name=HEAD_KIND_NAME, group_id__gt=last_pk
        ).values_list("group_id", flat=True)
    )
    assert (len(heads), set(heads.values())) == (50, {1})


def test_demo_small_loads_are_exact():
    before = (
        models.Registrant.objects.individuals().count(),
        models.Registrant.objects.groups().count(),
    )

    assert demo_load(individuals=9, force=True) == 9

    after = (
        models.Registrant.objects.individuals().count(),
        models.Registrant.objects.groups().count(),
    )
    assert (after[0] - before[0], after[1] - before[1]) == (9, 2)
    assert demo_load(individuals=0, force=True) == 0


def test_demo_is_deterministic():
    last_pk = models.Registrant.objects.aggregate(m=Max("pk"))["m"] or 0

    def load() -> list[tuple]:  # type: ignore[type-arg]
        with transaction.atomic():
            demo_load(individuals=200, force=True)
            new = models.Registrant.objects.filter(pk__gt=last_pk)
            rows = list(
                new.order_by("pk").values_list(
                    "name", "gender", "birthdate", "email", "address", "additional_g2p_info"
                )
            )
            rows += list(
                models.RegistrantId.objects.filter(registrant__in=new)
                .order_by("registrant_id")
                .values_list("value")
            )
            rows += list(
                models.PhoneNumber.objects.filter(registrant__in=new)
                .order_by("pk")
                .values_list("phone_no", "phone_sanitized")
            )
            transaction.set_rollback(True)
        return rows

    first = load()
    assert len(first) > 250
    assert load() == first


def test_demo_loads_2000_individuals_in_a_few_statements_and_seconds(django_assert_max_num_queries):
    started = time.perf_counter()
    with django_assert_max_num_queries(80):
        created = demo_load(force=True)
    elapsed = time.perf_counter() - started

    assert created == 2000
    assert elapsed < 10, f"demo load took {elapsed:.1f}s"
