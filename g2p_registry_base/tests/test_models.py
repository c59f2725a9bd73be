"""Registry rules on the models and, behind them, in the database (constraints and triggers).

Every refusal is checked twice: through the model (``save()`` runs ``full_clean()``, so the error
names the field) and, where the database backs the rule, through a path that skips the model
(``bulk_create``, ``QuerySet.update()``, raw SQL). Each refusal also checks that nothing changed.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from g2p_registry_base import models
from g2p_registry_base.choices import HEAD_KIND_NAME, MembershipStatus, PartnerType
from g2p_registry_base.factories import (
    GroupFactory,
    IdTypeFactory,
    IndividualFactory,
    MembershipFactory,
    PhoneNumberFactory,
    RegistrantIdFactory,
)
from g2p_registry_base.querysets import birthdate_range_for_age, years_before

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def today() -> datetime.date:
    return timezone.localdate()


def head_kind() -> models.MembershipKind:
    return models.MembershipKind.objects.get(name=HEAD_KIND_NAME)


def reloaded(obj):  # type: ignore[no-untyped-def]
    return type(obj).objects.get(pk=obj.pk)


def age_on(day: datetime.date, birthdate: datetime.date) -> int:
    return day.year - birthdate.year - ((day.month, day.day) < (birthdate.month, birthdate.day))


def db_refuses():  # type: ignore[no-untyped-def]
    """``pytest.raises(IntegrityError)`` around a savepoint, so the test can go on afterwards."""

    class _Refuses:
        def __enter__(self):  # type: ignore[no-untyped-def]
            self.raises = pytest.raises(IntegrityError)
            self.info = self.raises.__enter__()
            self.atomic = transaction.atomic()
            self.atomic.__enter__()
            return self.info

        def __exit__(self, *exc):  # type: ignore[no-untyped-def]
            self.atomic.__exit__(*exc)
            return self.raises.__exit__(*exc)

    return _Refuses()


# ------------------------------------------------------------------------------------------
# Registrant: names
# ------------------------------------------------------------------------------------------


def test_individual_name_is_family_comma_given_additional_in_capitals():
    person = IndividualFactory(family_name="Jaddranka", given_name="Heidi", addl_name="Maria")

    assert person.name == "JADDRANKA, HEIDI MARIA"
    assert reloaded(person).name == "JADDRANKA, HEIDI MARIA"


def test_individual_name_has_no_trailing_space_without_additional_name():
    person = IndividualFactory(family_name="Jaddranka", given_name="Heidi", addl_name="")

    assert reloaded(person).name == "JADDRANKA, HEIDI"


def test_individual_name_ignores_surrounding_spaces_of_the_parts():
    person = IndividualFactory(family_name="  Otieno ", given_name=" Jane  ", addl_name="  ")

    assert reloaded(person).name == "OTIENO, JANE"


def test_individual_name_follows_changes_of_the_name_parts():
    person = IndividualFactory(family_name="Jaddranka", given_name="Heidi")

    person.given_name = "Anna"
    person.addl_name = "Lee"
    person.save()

    assert reloaded(person).name == "JADDRANKA, ANNA LEE"


def test_individual_name_overrides_a_name_given_directly():
    person = IndividualFactory(family_name="Otieno", given_name="Jane", name="Something else")

    assert reloaded(person).name == "OTIENO, JANE"


def test_individual_without_given_name_is_refused():
    person = models.Registrant(is_group=False, family_name="Otieno", given_name="  ")

    with pytest.raises(ValidationError) as exc:
        person.save()

    assert exc.value.message_dict == {"given_name": ["The given name is required."]}
    assert models.Registrant.objects.count() == 0


def test_individual_without_family_name_is_refused():
    person = models.Registrant(is_group=False, given_name="Jane")

    with pytest.raises(ValidationError) as exc:
        person.save()

    assert exc.value.message_dict == {"family_name": ["The family name is required."]}
    assert models.Registrant.objects.count() == 0


def test_individual_losing_its_given_name_is_refused_and_unchanged():
    person = IndividualFactory(family_name="Otieno", given_name="Jane")

    person.given_name = ""
    with pytest.raises(ValidationError) as exc:
        person.save()

    assert exc.value.message_dict == {"given_name": ["The given name is required."]}
    stored = reloaded(person)
    assert (stored.given_name, stored.name) == ("Jane", "OTIENO, JANE")


def test_group_without_name_is_refused():
    group = models.Registrant(is_group=True, name="   ")

    with pytest.raises(ValidationError) as exc:
        group.save()

    assert exc.value.message_dict == {"name": ["A name is required."]}
    assert models.Registrant.objects.count() == 0


def test_group_with_given_or_family_name_is_refused():
    for parts in ({"given_name": "Jane"}, {"family_name": "Otieno"}, {"addl_name": "Wanjiru"}):
        group = models.Registrant(is_group=True, name="Otieno Household", **parts)

        with pytest.raises(ValidationError) as exc:
            group.save()

        assert exc.value.message_dict == {
            "given_name": ["Groups have a name, not given or family names."]
        }
    assert models.Registrant.objects.count() == 0


def test_group_with_birthdate_is_refused():
    group = models.Registrant(
        is_group=True, name="Otieno Household", birthdate=datetime.date(2000, 1, 1)
    )

    with pytest.raises(ValidationError) as exc:
        group.save()

    assert exc.value.message_dict == {"birthdate": ["Groups have no date of birth."]}
    assert models.Registrant.objects.count() == 0


def test_group_with_gender_is_refused():
    group = models.Registrant(is_group=True, name="Otieno Household", gender_id="Female")

    with pytest.raises(ValidationError) as exc:
        group.save()

    assert exc.value.message_dict == {"gender": ["Groups have no gender."]}
    assert models.Registrant.objects.count() == 0


def test_group_keeps_the_name_it_is_given():
    group = GroupFactory(name="Otieno Household")

    assert reloaded(group).name == "Otieno Household"


# ------------------------------------------------------------------------------------------
# Registrant: dates
# ------------------------------------------------------------------------------------------


def test_birthdate_in_the_future_is_refused_on_the_server():
    person = models.Registrant(
        is_group=False,
        family_name="Otieno",
        given_name="Jane",
        birthdate=today() + DAY,
        registration_date=None,
    )

    with pytest.raises(ValidationError) as exc:
        person.save()

    assert exc.value.message_dict == {
        "birthdate": ["You can't select a date of birth greater than today."]
    }
    assert models.Registrant.objects.count() == 0


def test_birthdate_moved_into_the_future_is_refused_and_unchanged():
    person = IndividualFactory(birthdate=datetime.date(1990, 5, 17), registration_date=None)

    person.birthdate = today() + DAY
    with pytest.raises(ValidationError) as exc:
        person.save()

    assert exc.value.message_dict == {
        "birthdate": ["You can't select a date of birth greater than today."]
    }
    assert reloaded(person).birthdate == datetime.date(1990, 5, 17)


def test_birthdate_today_is_accepted():
    person = IndividualFactory(birthdate=today(), registration_date=today())

    assert reloaded(person).birthdate == today()


def test_registration_date_in_the_future_is_refused():
    person = models.Registrant(
        is_group=False, family_name="Otieno", given_name="Jane", registration_date=today() + DAY
    )

    with pytest.raises(ValidationError) as exc:
        person.save()

    assert exc.value.message_dict == {
        "registration_date": ["Registration date must be less than the current date."]
    }
    assert models.Registrant.objects.count() == 0


def test_registration_date_today_is_accepted_and_is_the_default():
    person = IndividualFactory(registration_date=today())
    group = models.Registrant(is_group=True, name="Otieno Household")
    group.save()

    assert reloaded(person).registration_date == today()
    assert reloaded(group).registration_date == today()


def test_registration_date_before_birthdate_is_refused():
    person = models.Registrant(
        is_group=False,
        family_name="Otieno",
        given_name="Jane",
        birthdate=datetime.date(2000, 3, 10),
        registration_date=datetime.date(2000, 3, 9),
    )

    with pytest.raises(ValidationError) as exc:
        person.save()

    assert exc.value.message_dict == {
        "registration_date": ["Registration date must be later than the birth date."]
    }
    assert models.Registrant.objects.count() == 0


def test_registration_date_on_the_birthdate_is_accepted():
    person = IndividualFactory(
        birthdate=datetime.date(2000, 3, 10), registration_date=datetime.date(2000, 3, 10)
    )

    assert reloaded(person).registration_date == datetime.date(2000, 3, 10)


def test_database_refuses_registration_date_before_birthdate():
    person = IndividualFactory(
        birthdate=datetime.date(2000, 3, 10), registration_date=datetime.date(2024, 1, 10)
    )

    with db_refuses() as exc:
        models.Registrant.objects.filter(pk=person.pk).update(
            registration_date=F("birthdate") - DAY
        )

    assert "registrant_registration_after_birth" in str(exc.value)
    assert reloaded(person).registration_date == datetime.date(2024, 1, 10)


# ------------------------------------------------------------------------------------------
# Registrant: other fields
# ------------------------------------------------------------------------------------------


def test_unknown_gender_is_refused():
    person = models.Registrant(
        is_group=False, family_name="Otieno", given_name="Jane", gender_id="Unknown"
    )

    with pytest.raises(ValidationError) as exc:
        person.save()

    assert list(exc.value.message_dict) == ["gender"]
    assert "Invalid gender: Unknown." in exc.value.message_dict["gender"]
    assert models.Registrant.objects.count() == 0


def test_seeded_genders_are_accepted():
    female = IndividualFactory(gender_id="Female")
    male = IndividualFactory(gender_id="Male")
    other = IndividualFactory(gender_id="Other")

    assert [reloaded(p).gender_id for p in (female, male, other)] == ["Female", "Male", "Other"]


def test_invalid_email_is_refused():
    person = models.Registrant(
        is_group=False, family_name="Otieno", given_name="Jane", email="jane-at-example.org"
    )

    with pytest.raises(ValidationError) as exc:
        person.save()

    assert exc.value.message_dict == {"email": ["Enter a valid email address."]}
    assert models.Registrant.objects.count() == 0


def test_valid_email_is_accepted():
    person = IndividualFactory(email="jane.otieno@example.org")

    assert reloaded(person).email == "jane.otieno@example.org"


def test_negative_income_is_refused_naming_the_field():
    person = models.Registrant(
        is_group=False, family_name="Otieno", given_name="Jane", income=Decimal("-0.01")
    )

    with pytest.raises(ValidationError) as exc:
        person.save()

    assert exc.value.message_dict == {"income": ["Negative values are not allowed."]}
    assert models.Registrant.objects.count() == 0


def test_zero_income_is_accepted():
    person = IndividualFactory(income=Decimal("0"))

    assert reloaded(person).income == Decimal("0.00")


def test_database_refuses_negative_income():
    person = IndividualFactory(income=Decimal("150.00"))

    with db_refuses() as exc:
        models.Registrant.objects.filter(pk=person.pk).update(income=Decimal("-1"))

    assert "registrant_income_not_negative" in str(exc.value)
    assert reloaded(person).income == Decimal("150.00")


def test_group_kind_on_an_individual_is_refused():
    household = models.GroupKind.objects.get(name="Household")
    person = models.Registrant(
        is_group=False, family_name="Otieno", given_name="Jane", kind=household
    )

    with pytest.raises(ValidationError) as exc:
        person.save()

    assert exc.value.message_dict == {"kind": ["Only groups have a group kind."]}
    assert models.Registrant.objects.count() == 0


def test_group_kind_on_a_group_is_accepted():
    household = models.GroupKind.objects.get(name="Household")
    group = GroupFactory(kind=household)

    assert reloaded(group).kind == household


def test_database_refuses_group_kind_on_an_individual():
    household = models.GroupKind.objects.get(name="Household")
    person = IndividualFactory()

    with db_refuses() as exc:
        models.Registrant.objects.filter(pk=person.pk).update(kind=household)

    assert "registrant_kind_only_for_groups" in str(exc.value)
    assert reloaded(person).kind_id is None


def test_disabling_without_reason_is_refused():
    person = IndividualFactory()

    person.disabled = timezone.now()
    person.disabled_reason = "   "
    with pytest.raises(ValidationError) as exc:
        person.save()

    assert exc.value.message_dict == {
        "disabled_reason": ["A reason is required to disable a registrant."]
    }
    stored = reloaded(person)
    assert (stored.disabled, stored.disabled_reason) == (None, "")


def test_database_refuses_disabling_without_reason():
    person = IndividualFactory()

    with db_refuses() as exc:
        models.Registrant.objects.filter(pk=person.pk).update(
            disabled=timezone.now(), disabled_reason=""
        )

    assert "registrant_disabled_has_reason" in str(exc.value)
    assert reloaded(person).disabled is None


def test_database_refuses_empty_name():
    group = GroupFactory(name="Otieno Household")

    with db_refuses() as exc:
        models.Registrant.objects.filter(pk=group.pk).update(name="")

    assert "registrant_name_not_empty" in str(exc.value)
    assert reloaded(group).name == "Otieno Household"


def test_registrant_belongs_to_the_default_company():
    person = IndividualFactory()

    assert reloaded(person).company_id == models.default_company_id()
    assert models.Company.objects.get(pk=person.company_id).name == "Default Company"


# ------------------------------------------------------------------------------------------
# Registrant: age
# ------------------------------------------------------------------------------------------


def test_age_counts_whole_years_since_birth():
    birthday_today = IndividualFactory(
        birthdate=years_before(today(), 30), registration_date=today()
    )
    birthday_tomorrow = IndividualFactory(
        birthdate=years_before(today(), 30) + DAY, registration_date=today()
    )
    birthday_yesterday = IndividualFactory(
        birthdate=years_before(today(), 30) - DAY, registration_date=today()
    )
    newborn = IndividualFactory(birthdate=today(), registration_date=today())
    unknown = IndividualFactory(birthdate=None)

    assert [
        p.age for p in (birthday_today, birthday_tomorrow, birthday_yesterday, newborn, unknown)
    ] == [
        30,
        29,
        30,
        0,
        None,
    ]


def test_age_property_and_sql_age_agree():
    birthdates = [
        years_before(today(), 30),  # birthday today
        years_before(today(), 30) + DAY,  # birthday tomorrow
        years_before(today(), 30) - DAY,  # birthday yesterday
        today(),  # born today
        today() - DAY,
        datetime.date(2000, 2, 29),  # leap day, leap century year
        datetime.date(2004, 2, 29),
        datetime.date(2003, 2, 28),
        datetime.date(2003, 3, 1),
        datetime.date(1944, 12, 31),
        datetime.date(1950, 1, 1),
    ]
    people = [IndividualFactory(birthdate=b, registration_date=today()) for b in birthdates]
    IndividualFactory(birthdate=None)

    sql_ages = dict(models.Registrant.objects.with_age().values_list("pk", "age"))

    assert {p.pk: sql_ages[p.pk] for p in people} == {p.pk: p.age for p in people}
    assert [sql_ages[p.pk] for p in people] == [age_on(today(), b) for b in birthdates]
    assert sql_ages[people[0].pk] == 30
    assert sql_ages[people[1].pk] == 29
    assert list(
        models.Registrant.objects.with_age().filter(birthdate=None).values_list("age", flat=True)
    ) == [None]


def test_with_age_annotates_model_instances():
    person = IndividualFactory(birthdate=years_before(today(), 30), registration_date=today())
    IndividualFactory(birthdate=None)

    ages = {r.pk: r.age for r in models.Registrant.objects.with_age()}

    assert ages[person.pk] == 30
    assert sorted(ages.values(), key=str) == [30, None]


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Niue"])
def test_sql_age_agrees_with_python_age_in_the_active_time_zone(zone):
    # UTC+14 and UTC-11: at any hour at least one of them is on another calendar day than UTC,
    # so one of the birthdays yesterday / today / tomorrow there falls on another day in UTC.
    # The SQL age must follow the same calendar day as Python's age and birthdate_range_for_age
    # (the active time zone), or lists disagree with forms and filters around midnight.
    with timezone.override(zone):
        local_today = timezone.localdate()
        people = [
            IndividualFactory(
                birthdate=years_before(local_today + offset * DAY, 40), registration_date=None
            )
            for offset in (-1, 0, 1)
        ]
        sql_ages = dict(models.Registrant.objects.with_age().values_list("pk", "age"))
        in_range = set(
            models.Registrant.objects.filter(
                birthdate_range_for_age(min_age=40, max_age=40)
            ).values_list("pk", flat=True)
        )

        assert [p.age for p in people] == [40, 40, 39]
        assert [p.pk in in_range for p in people] == [True, True, False]
        assert [sql_ages[p.pk] for p in people] == [40, 40, 39]


def _range_matches(q, birthdate: datetime.date) -> bool:  # type: ignore[no-untyped-def]
    """Evaluate the Q of :func:`birthdate_range_for_age` in Python."""
    for lookup, value in q.children:
        if lookup == "birthdate__isnull":
            assert value is False
        elif lookup == "birthdate__lte":
            if not birthdate <= value:
                return False
        elif lookup == "birthdate__gt":
            if not birthdate > value:
                return False
        else:  # pragma: no cover - the function only builds these lookups
            raise AssertionError(lookup)
    return True


def test_birthdate_range_for_age_has_exact_boundaries():
    day = datetime.date(2025, 6, 15)
    q = birthdate_range_for_age(min_age=18, max_age=59, today=day)

    assert q.children == [
        ("birthdate__isnull", False),
        ("birthdate__lte", datetime.date(2007, 6, 15)),
        ("birthdate__gt", datetime.date(1965, 6, 15)),
    ]
    inside = [datetime.date(2007, 6, 15), datetime.date(1965, 6, 16)]  # 18 today, 59 until tomorrow
    outside = [datetime.date(2007, 6, 16), datetime.date(1965, 6, 15)]  # 18 tomorrow, 60 today
    people = {b: IndividualFactory(birthdate=b, registration_date=b) for b in inside + outside}

    found = set(models.Registrant.objects.filter(q).values_list("birthdate", flat=True))

    assert found == set(inside)
    assert [age_on(day, b) for b in inside + outside] == [18, 59, 17, 60]
    assert len(people) == 4


def test_birthdate_range_for_age_handles_29_february():
    cases = [
        # today, min, max, born inside, born outside
        (
            datetime.date(2025, 2, 28),
            21,
            None,
            [datetime.date(2004, 2, 28)],
            [datetime.date(2004, 2, 29)],
        ),
        (
            datetime.date(2025, 3, 1),
            21,
            None,
            [datetime.date(2004, 2, 29), datetime.date(2004, 3, 1)],
            [],
        ),
        (
            datetime.date(2024, 2, 29),
            18,
            None,
            [datetime.date(2006, 2, 28)],
            [datetime.date(2006, 3, 1)],
        ),
        (
            datetime.date(2024, 2, 29),
            None,
            17,
            [datetime.date(2006, 3, 1)],
            [datetime.date(2006, 2, 28)],
        ),
        (
            datetime.date(2024, 2, 29),
            4,
            4,
            [datetime.date(2020, 2, 29)],
            [datetime.date(2020, 3, 1)],
        ),
    ]
    for day, min_age, max_age, inside, outside in cases:
        q = birthdate_range_for_age(min_age=min_age, max_age=max_age, today=day)
        assert [_range_matches(q, b) for b in inside] == [True] * len(inside), (
            day,
            min_age,
            max_age,
        )
        assert [_range_matches(q, b) for b in outside] == [False] * len(outside), (
            day,
            min_age,
            max_age,
        )


def test_birthdate_range_for_age_agrees_with_age_on_every_day():
    # Every birthdate over nine years (three leap days) against tricky "today"s and age bands.
    days = [
        datetime.date(2024, 2, 28),
        datetime.date(2024, 2, 29),
        datetime.date(2024, 3, 1),
        datetime.date(2025, 2, 28),
        datetime.date(2025, 3, 1),
        datetime.date(2025, 12, 31),
        datetime.date(2026, 1, 1),
    ]
    bands = [(0, 4), (5, 17), (18, 59), (60, None), (None, 0), (7, 7)]
    births = [datetime.date(1960, 1, 1) + datetime.timedelta(days=n) for n in range(0, 366 * 66, 7)]
    births += [
        datetime.date(y, m, d) for y in range(1996, 2025, 4) for m, d in ((2, 28), (2, 29), (3, 1))
    ]
    for day in days:
        for min_age, max_age in bands:
            q = birthdate_range_for_age(min_age=min_age, max_age=max_age, today=day)
            for b in births:
                if b > day:
                    continue
                age = age_on(day, b)
                expected = (min_age is None or age >= min_age) and (
                    max_age is None or age <= max_age
                )
                assert _range_matches(q, b) is expected, (day, min_age, max_age, b)


# ------------------------------------------------------------------------------------------
# Group membership
# ------------------------------------------------------------------------------------------


def test_membership_group_must_be_a_group():
    person, other = IndividualFactory(), IndividualFactory()

    with pytest.raises(ValidationError) as exc:
        models.GroupMembership(group=person, individual=other).save()

    assert exc.value.message_dict == {"group": ["The group must be a registrant group."]}
    assert models.GroupMembership.objects.count() == 0


def test_membership_member_must_be_an_individual():
    group, other_group = GroupFactory(), GroupFactory()

    with pytest.raises(ValidationError) as exc:
        models.GroupMembership(group=group, individual=other_group).save()

    assert exc.value.message_dict == {"individual": ["The member must be a registrant individual."]}
    assert models.GroupMembership.objects.count() == 0


def test_membership_parties_must_be_registrants():
    group, person = GroupFactory(), IndividualFactory()
    models.Registrant.objects.filter(pk__in=[group.pk, person.pk]).update(is_registrant=False)
    group.refresh_from_db()
    person.refresh_from_db()

    with pytest.raises(ValidationError) as exc:
        models.GroupMembership(group=group, individual=person).save()

    assert exc.value.message_dict == {
        "group": ["The group must be a registrant group."],
        "individual": ["The member must be a registrant individual."],
    }
    assert models.GroupMembership.objects.count() == 0


def test_database_refuses_an_individual_as_group():
    person, other = IndividualFactory(), IndividualFactory()

    with db_refuses() as exc:
        models.GroupMembership.objects.bulk_create(
            [models.GroupMembership(group=person, individual=other)]
        )

    assert "is not a registrant group" in str(exc.value)
    assert models.GroupMembership.objects.count() == 0


def test_database_refuses_a_group_as_member():
    group, other_group = GroupFactory(), GroupFactory()

    with db_refuses() as exc:
        models.GroupMembership.objects.bulk_create(
            [models.GroupMembership(group=group, individual=other_group)]
        )

    assert "is not a registrant individual" in str(exc.value)
    assert models.GroupMembership.objects.count() == 0


def test_database_refuses_moving_a_membership_onto_a_non_group():
    membership = MembershipFactory()
    person = IndividualFactory()
    group_id = membership.group_id

    with db_refuses():
        models.GroupMembership.objects.filter(pk=membership.pk).update(group=person)
    with db_refuses():
        models.GroupMembership.objects.filter(pk=membership.pk).update(individual=GroupFactory())

    stored = reloaded(membership)
    assert (stored.group_id, stored.individual_id) == (group_id, membership.individual_id)


def test_database_refuses_turning_a_member_into_a_group():
    # The membership rule (group joins an individual) must hold whichever row changes: turning
    # the member itself into a group (or the group into an individual, or either into a
    # non-registrant) must not leave a membership that breaks it.
    membership = MembershipFactory()

    with db_refuses():
        models.Registrant.objects.filter(pk=membership.individual_id).update(is_group=True)
    with db_refuses():
        models.Registrant.objects.filter(pk=membership.group_id).update(is_group=False)
    with db_refuses():
        models.Registrant.objects.filter(pk=membership.individual_id).update(is_registrant=False)

    stored = models.Registrant.objects.filter(
        pk__in=[membership.group_id, membership.individual_id]
    )
    assert dict(stored.values_list("pk", "is_group")) == {
        membership.group_id: True,
        membership.individual_id: False,
    }
    assert set(stored.values_list("is_registrant", flat=True)) == {True}


def test_registrant_without_memberships_may_change_kind_in_the_database():
    person = IndividualFactory()

    models.Registrant.objects.filter(pk=person.pk).update(
        is_group=True, given_name="", family_name=""
    )

    assert reloaded(person).is_group is True


def test_database_refuses_raw_insert_with_swapped_parties():
    group, person = GroupFactory(), IndividualFactory()

    with db_refuses(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO g2p_registry_base_groupmembership (group_id, individual_id, start_date)"
            " VALUES (%s, %s, now())",
            [person.pk, group.pk],
        )

    assert models.GroupMembership.objects.count() == 0


def test_duplicate_member_is_refused():
    membership = MembershipFactory()

    with pytest.raises(ValidationError) as exc:
        models.GroupMembership(group=membership.group, individual=membership.individual).save()

    assert exc.value.messages == ["Duplication of Member is not allowed"]
    assert models.GroupMembership.objects.count() == 1


def test_duplicate_member_is_refused_even_when_the_first_membership_ended():
    membership = MembershipFactory(
        ended_date=timezone.now() - DAY, start_date=timezone.now() - 10 * DAY
    )

    with pytest.raises(ValidationError) as exc:
        models.GroupMembership(group=membership.group, individual=membership.individual).save()

    assert exc.value.messages == ["Duplication of Member is not allowed"]
    assert models.GroupMembership.objects.count() == 1


def test_database_refuses_duplicate_member():
    membership = MembershipFactory()

    with db_refuses() as exc:
        models.GroupMembership.objects.bulk_create(
            [models.GroupMembership(group=membership.group, individual=membership.individual)]
        )

    assert "membership_unique_member" in str(exc.value)
    assert models.GroupMembership.objects.count() == 1


def test_same_individual_in_two_groups_is_accepted():
    person = IndividualFactory()
    MembershipFactory(individual=person)
    MembershipFactory(individual=person)

    assert models.GroupMembership.objects.filter(individual=person).count() == 2


def test_membership_ending_before_it_starts_is_refused():
    start = timezone.now() - 10 * DAY
    membership = models.GroupMembership(
        group=GroupFactory(),
        individual=IndividualFactory(),
        start_date=start,
        ended_date=start - DAY,
    )

    with pytest.raises(ValidationError) as exc:
        membership.save()

    assert exc.value.message_dict == {"ended_date": ["End Date cannot be earlier than Start Date"]}
    assert models.GroupMembership.objects.count() == 0


def test_membership_ending_when_it_starts_is_accepted():
    start = timezone.now() - 10 * DAY
    membership = MembershipFactory(start_date=start, ended_date=start)

    assert reloaded(membership).ended_date == start


def test_database_refuses_membership_ending_before_it_starts():
    start = timezone.now() - 10 * DAY
    membership = MembershipFactory(start_date=start)

    with db_refuses() as exc:
        models.GroupMembership.objects.filter(pk=membership.pk).update(
            ended_date=F("start_date") - DAY
        )

    assert "membership_end_after_start" in str(exc.value)
    assert reloaded(membership).ended_date is None


def test_membership_status_is_not_stored():
    columns = {f.column for f in models.GroupMembership._meta.concrete_fields}

    assert "status" not in columns
    assert "is_ended" not in columns


def test_membership_without_end_is_active():
    membership = MembershipFactory()

    assert (membership.status, membership.is_ended) == (MembershipStatus.ACTIVE, False)
    assert list(models.GroupMembership.objects.current()) == [membership]
    assert list(models.GroupMembership.objects.ended()) == []


def test_membership_with_past_end_is_ended():
    membership = MembershipFactory(
        start_date=timezone.now() - 10 * DAY, ended_date=timezone.now() - DAY
    )

    assert (membership.status, membership.is_ended) == (MembershipStatus.INACTIVE, True)
    assert list(models.GroupMembership.objects.current()) == []
    assert list(models.GroupMembership.objects.ended()) == [membership]


def test_membership_with_future_end_becomes_ended_once_the_end_passes(monkeypatch):
    end = timezone.now() + datetime.timedelta(hours=1)
    membership = MembershipFactory(ended_date=end)

    assert (membership.status, membership.is_ended) == (MembershipStatus.ACTIVE, False)
    assert list(models.GroupMembership.objects.current()) == [membership]

    # Two hours later, with nothing written in between, the same row reads as ended.
    later = end + datetime.timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    stored = reloaded(membership)
    assert (stored.status, stored.is_ended) == (MembershipStatus.INACTIVE, True)


def test_membership_end_passing_is_seen_by_sql_without_rewriting_the_row():
    membership = MembershipFactory(
        start_date=timezone.now() - 10 * DAY, ended_date=timezone.now() + DAY
    )
    assert models.GroupMembership.objects.current().count() == 1

    # Simulate time passing by moving only the end date (no status column to keep in step).
    models.GroupMembership.objects.filter(pk=membership.pk).update(
        ended_date=timezone.now() - datetime.timedelta(minutes=1)
    )

    assert models.GroupMembership.objects.current().count() == 0
    assert list(models.GroupMembership.objects.ended()) == [membership]


def test_visible_memberships_exclude_disabled_groups_and_individuals():
    kept = MembershipFactory()
    hidden_group = MembershipFactory()
    hidden_person = MembershipFactory()
    models.Registrant.objects.filter(
        pk__in=[hidden_group.group_id, hidden_person.individual_id]
    ).update(disabled=timezone.now(), disabled_reason="Deceased")

    assert list(models.GroupMembership.objects.visible()) == [kept]


# ------------------------------------------------------------------------------------------
# Unique membership kinds (Head)
# ------------------------------------------------------------------------------------------


def head_holders(group: models.Registrant) -> list[int]:
    return sorted(
        models.GroupMembership.objects.filter(group=group, kinds__name=HEAD_KIND_NAME).values_list(
            "pk", flat=True
        )
    )


def test_second_head_through_kinds_add_is_refused_by_the_database():
    group = GroupFactory()
    first = MembershipFactory(group=group)
    second = MembershipFactory(group=group)
    first.kinds.add(head_kind())

    with db_refuses() as exc:
        second.kinds.add(head_kind())

    assert "Only one Head is allowed per group" in str(exc.value)
    assert head_holders(group) == [first.pk]
    assert second.kinds.count() == 0


def test_second_head_through_raw_sql_is_refused():
    group = GroupFactory()
    first = MembershipFactory(group=group)
    second = MembershipFactory(group=group)
    first.kinds.add(head_kind())

    with db_refuses() as exc, connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO g2p_registry_base_groupmembership_kinds"
            " (groupmembership_id, membershipkind_id) VALUES (%s, %s)",
            [second.pk, head_kind().pk],
        )

    assert "Only one Head is allowed per group" in str(exc.value)
    assert head_holders(group) == [first.pk]


def test_two_heads_in_one_statement_are_refused():
    group = GroupFactory()
    first = MembershipFactory(group=group)
    second = MembershipFactory(group=group)
    link = models.GroupMembership.kinds.through

    with db_refuses():
        link.objects.bulk_create(
            [
                link(groupmembership_id=first.pk, membershipkind_id=head_kind().pk),
                link(groupmembership_id=second.pk, membershipkind_id=head_kind().pk),
            ]
        )

    assert head_holders(group) == []


def test_heads_of_different_groups_are_accepted():
    first, second = MembershipFactory(), MembershipFactory()
    first.kinds.add(head_kind())
    second.kinds.add(head_kind())

    assert head_holders(first.group) == [first.pk]
    assert head_holders(second.group) == [second.pk]


def test_head_whose_membership_ends_in_the_future_still_blocks_a_second_head():
    # Until its end date passes the membership is current (status "active", counted as a
    # member), so its Head is the group's head: a second current Head would make "the head of
    # the household" ambiguous (e.g. who receives the entitlement).
    group = GroupFactory()
    leaving = MembershipFactory(group=group, ended_date=timezone.now() + 30 * DAY)
    leaving.kinds.add(head_kind())
    second = MembershipFactory(group=group)

    with db_refuses():
        second.kinds.add(head_kind())

    assert head_holders(group) == [leaving.pk]


def test_ended_head_allows_a_new_head():
    group = GroupFactory()
    former = MembershipFactory(
        group=group, start_date=timezone.now() - 10 * DAY, ended_date=timezone.now() - DAY
    )
    former.kinds.add(head_kind())
    new = MembershipFactory(group=group)

    new.kinds.add(head_kind())

    assert head_holders(group) == sorted([former.pk, new.pk])
    assert list(models.GroupMembership.objects.current().filter(kinds__name=HEAD_KIND_NAME)) == [
        new
    ]


def test_reopening_an_ended_head_is_refused_when_another_head_exists():
    group = GroupFactory()
    ended_at = timezone.now() - DAY
    former = MembershipFactory(
        group=group, start_date=timezone.now() - 10 * DAY, ended_date=ended_at
    )
    former.kinds.add(head_kind())
    MembershipFactory(group=group).kinds.add(head_kind())

    former.ended_date = None
    with db_refuses() as exc:
        former.save()
    with db_refuses():
        models.GroupMembership.objects.filter(pk=former.pk).update(ended_date=None)

    assert "Only one Head is allowed per group" in str(exc.value)
    assert reloaded(former).ended_date == ended_at


def test_moving_a_head_into_a_group_with_a_head_is_refused():
    group = GroupFactory()
    MembershipFactory(group=group).kinds.add(head_kind())
    elsewhere = MembershipFactory()
    elsewhere.kinds.add(head_kind())

    with db_refuses():
        models.GroupMembership.objects.filter(pk=elsewhere.pk).update(group=group)

    assert reloaded(elsewhere).group_id == elsewhere.group_id


def test_making_a_kind_unique_is_refused_while_a_group_has_two_holders():
    caregiver = models.MembershipKind.objects.create(name="Caregiver")
    group = GroupFactory()
    for _ in range(2):
        MembershipFactory(group=group).kinds.add(caregiver)

    caregiver.is_unique = True
    with db_refuses() as exc:
        caregiver.save()
    with db_refuses():
        models.MembershipKind.objects.filter(pk=caregiver.pk).update(is_unique=True)

    assert "already has several members of kind Caregiver" in str(exc.value)
    assert reloaded(caregiver).is_unique is False


def test_making_a_kind_unique_is_accepted_when_holders_are_in_different_groups_or_ended():
    caregiver = models.MembershipKind.objects.create(name="Caregiver")
    MembershipFactory().kinds.add(caregiver)
    MembershipFactory().kinds.add(caregiver)
    group = GroupFactory()
    MembershipFactory(group=group).kinds.add(caregiver)
    MembershipFactory(
        group=group, start_date=timezone.now() - 10 * DAY, ended_date=timezone.now() - DAY
    ).kinds.add(caregiver)

    caregiver.is_unique = True
    caregiver.save()

    assert reloaded(caregiver).is_unique is True


def test_a_new_unique_kind_is_enforced_like_head():
    principal = models.MembershipKind.objects.create(name="Principal recipient", is_unique=True)
    group = GroupFactory()
    MembershipFactory(group=group).kinds.add(principal)

    with db_refuses() as exc:
        MembershipFactory(group=group).kinds.add(principal)

    assert "Only one Principal recipient is allowed per group" in str(exc.value)


def test_non_unique_kind_may_be_held_by_many_members():
    child = models.MembershipKind.objects.create(name="Child")
    group = GroupFactory()
    for _ in range(3):
        MembershipFactory(group=group).kinds.add(child)

    assert models.GroupMembership.objects.filter(group=group, kinds=child).count() == 3


def test_head_kind_is_seeded_unique_and_protected():
    head = head_kind()

    assert (head.name, head.is_unique, head.protected) == ("Head", True, True)


def test_head_kind_cannot_be_edited():
    head = head_kind()

    head.name = "Chief"
    with pytest.raises(ValidationError) as exc:
        head.save()

    assert exc.value.messages == ["Can't edit default kinds"]
    stored = reloaded(head)
    assert (stored.name, stored.is_unique, stored.protected) == ("Head", True, True)


def test_head_kind_cannot_be_deleted():
    head = head_kind()

    with pytest.raises(ValidationError) as exc:
        head.delete()

    assert exc.value.messages == ["Can't delete default kinds"]
    assert models.MembershipKind.objects.filter(pk=head.pk).exists()


def test_database_refuses_editing_the_head_kind():
    head = head_kind()

    for change in ({"name": "Chief"}, {"is_unique": False}, {"protected": False}):
        with db_refuses() as exc:
            models.MembershipKind.objects.filter(pk=head.pk).update(**change)
        assert "Can't edit default kinds" in str(exc.value)

    stored = reloaded(head)
    assert (stored.name, stored.is_unique, stored.protected) == ("Head", True, True)


def test_database_refuses_deleting_the_head_kind():
    head = head_kind()
    membership = MembershipFactory()
    membership.kinds.add(head)

    with db_refuses() as exc:
        models.MembershipKind.objects.filter(pk=head.pk).delete()

    assert "Can't delete default kinds" in str(exc.value)
    assert models.MembershipKind.objects.filter(pk=head.pk).exists()
    assert list(membership.kinds.all()) == [head]


def test_ordinary_kinds_can_be_edited_and_deleted():
    kind = models.MembershipKind.objects.create(name="Caregiver")

    kind.name = "Carer"
    kind.save()
    assert reloaded(kind).name == "Carer"

    kind.delete()
    assert not models.MembershipKind.objects.filter(name="Carer").exists()


# ------------------------------------------------------------------------------------------
# ID types and registrant IDs
# ------------------------------------------------------------------------------------------


def test_id_type_name_is_unique_case_insensitively():
    models.IdType.objects.create(name="National ID")

    with pytest.raises(ValidationError) as exc:
        models.IdType(name="national id").save()

    assert exc.value.messages == ["Id type already exists"]
    assert list(models.IdType.objects.values_list("name", flat=True)) == ["National ID"]


def test_database_refuses_id_type_names_differing_only_by_case():
    models.IdType.objects.create(name="National ID")

    with db_refuses():
        models.IdType.objects.bulk_create([models.IdType(name="NATIONAL ID")])

    assert models.IdType.objects.count() == 1


def test_id_type_without_name_is_refused():
    with pytest.raises(ValidationError) as exc:
        models.IdType(name="   ").save()

    assert exc.value.message_dict == {"name": ["Id type should not be empty."]}
    assert models.IdType.objects.count() == 0


def test_id_type_with_invalid_pattern_is_refused():
    with pytest.raises(ValidationError) as exc:
        models.IdType(name="National ID", id_validation="[0-9").save()

    assert list(exc.value.message_dict) == ["id_validation"]
    assert exc.value.message_dict["id_validation"][0].startswith("Not a valid regular expression: ")
    assert models.IdType.objects.count() == 0


def test_registrant_id_must_match_the_pattern_in_full():
    id_type = IdTypeFactory(name="National ID", id_validation="[0-9]+")
    person = IndividualFactory()

    for value in ("1abc", "abc", "12 34", "12a"):
        with pytest.raises(ValidationError) as exc:
            models.RegistrantId(registrant=person, id_type=id_type, value=value).save()
        assert exc.value.message_dict == {
            "value": [f"The provided National ID ID '{value.strip()}' is invalid."]
        }

    assert models.RegistrantId.objects.count() == 0
    models.RegistrantId(registrant=person, id_type=id_type, value="1234").save()
    assert list(models.RegistrantId.objects.values_list("value", flat=True)) == ["1234"]


def test_registrant_id_pattern_with_anchors_or_alternatives_matches_in_full():
    id_type = IdTypeFactory(name="Passport", id_validation="A[0-9]{3}|B[0-9]{2}")
    person = IndividualFactory()

    with pytest.raises(ValidationError):
        models.RegistrantId(registrant=person, id_type=id_type, value="B123").save()
    models.RegistrantId(registrant=person, id_type=id_type, value="A123").save()

    assert list(models.RegistrantId.objects.values_list("value", flat=True)) == ["A123"]


def test_registrant_id_without_pattern_accepts_any_value():
    id_type = IdTypeFactory(name="Refugee card")

    reg_id = RegistrantIdFactory(id_type=id_type, value="KAK/2021/0042-b")

    assert reloaded(reg_id).value == "KAK/2021/0042-b"


def test_registrant_id_value_is_stripped():
    reg_id = RegistrantIdFactory(value="  123456789 ")

    assert reloaded(reg_id).value == "123456789"


def test_registrant_id_without_value_is_refused():
    person = IndividualFactory()
    id_type = IdTypeFactory(name="National ID")

    with pytest.raises(ValidationError) as exc:
        models.RegistrantId(registrant=person, id_type=id_type, value="   ").save()

    assert exc.value.message_dict == {"value": ["The ID value is required."]}
    assert models.RegistrantId.objects.count() == 0


def test_database_refuses_empty_registrant_id_value():
    reg_id = RegistrantIdFactory(value="123456789")

    with db_refuses() as exc:
        models.RegistrantId.objects.filter(pk=reg_id.pk).update(value="")

    assert "regid_value_not_empty" in str(exc.value)
    assert reloaded(reg_id).value == "123456789"


def test_one_registrant_id_per_registrant_and_id_type():
    reg_id = RegistrantIdFactory(value="123456789")

    with pytest.raises(ValidationError) as exc:
        models.RegistrantId(
            registrant=reg_id.registrant, id_type=reg_id.id_type, value="987654321"
        ).save()

    assert exc.value.messages == ["ID Type must be unique."]
    assert list(models.RegistrantId.objects.values_list("value", flat=True)) == ["123456789"]


def test_database_refuses_a_second_registrant_id_of_the_same_type():
    reg_id = RegistrantIdFactory(value="123456789")

    with db_refuses():
        models.RegistrantId.objects.bulk_create(
            [
                models.RegistrantId(
                    registrant=reg_id.registrant, id_type=reg_id.id_type, value="987654321"
                )
            ]
        )

    assert models.RegistrantId.objects.count() == 1


def test_registrant_may_hold_ids_of_different_types():
    person = IndividualFactory()
    RegistrantIdFactory(registrant=person, id_type=IdTypeFactory(name="National ID"), value="1")
    RegistrantIdFactory(registrant=person, id_type=IdTypeFactory(name="Passport"), value="1")

    assert person.reg_ids.count() == 2


def test_same_id_value_on_two_registrants_is_accepted():
    id_type = IdTypeFactory(name="National ID", id_validation="[0-9]{9}")
    first = RegistrantIdFactory(id_type=id_type, value="123456789")
    second = RegistrantIdFactory(id_type=id_type, value="123456789")

    assert first.registrant_id != second.registrant_id
    assert models.RegistrantId.objects.filter(value="123456789").count() == 2


# ------------------------------------------------------------------------------------------
# Phone numbers
# ------------------------------------------------------------------------------------------


def test_phone_in_local_format_is_normalised_with_the_default_region():
    phone = models.PhoneNumber(registrant=IndividualFactory(), phone_no="0712 345 678")
    phone.save()

    stored = reloaded(phone)
    assert (stored.phone_no, stored.phone_sanitized) == ("0712 345 678", "+254712345678")


def test_phone_in_local_format_is_normalised_with_its_own_country():
    phone = models.PhoneNumber(
        registrant=IndividualFactory(), phone_no="06 12 34 56 78", country_code="FR"
    )
    phone.save()

    assert reloaded(phone).phone_sanitized == "+33612345678"


def test_phone_with_international_prefix_keeps_its_country():
    phone = models.PhoneNumber(registrant=IndividualFactory(), phone_no="+33 6 12 34 56 78")
    phone.save()

    assert reloaded(phone).phone_sanitized == "+33612345678"


def test_phone_normalisation_follows_changes():
    phone = PhoneNumberFactory(phone_no="+254712345678")

    phone.phone_no = "0733 000 111"
    phone.save()

    assert reloaded(phone).phone_sanitized == "+254733000111"


def test_invalid_phone_is_refused_naming_phone_no():
    person = IndividualFactory()
    cases = {
        "12345": "'12345' is not a valid phone number.",
        "hello": "'hello' is not a phone number.",
        "   ": "The phone number is required.",
        "0712 345": "'0712 345' is not a valid phone number.",  # too short
    }
    for raw, message in cases.items():
        with pytest.raises(ValidationError) as exc:
            models.PhoneNumber(registrant=person, phone_no=raw).save()
        assert exc.value.message_dict == {"phone_no": [message]}

    assert models.PhoneNumber.objects.count() == 0


def test_duplicate_phone_of_a_registrant_is_refused_in_any_format():
    phone = PhoneNumberFactory(phone_no="+254712345678")

    with pytest.raises(ValidationError) as exc:
        models.PhoneNumber(registrant=phone.registrant, phone_no="0712 345678").save()

    assert exc.value.messages == ["This registrant already has this phone number."]
    assert list(models.PhoneNumber.objects.values_list("phone_no", flat=True)) == ["+254712345678"]


def test_database_refuses_duplicate_phone_of_a_registrant():
    phone = PhoneNumberFactory(phone_no="+254712345678")

    with db_refuses():
        models.PhoneNumber.objects.bulk_create(
            [
                models.PhoneNumber(
                    registrant=phone.registrant,
                    phone_no="0712345678",
                    phone_sanitized="+254712345678",
                )
            ]
        )

    assert models.PhoneNumber.objects.count() == 1


def test_database_refuses_a_phone_not_in_e164():
    phone = PhoneNumberFactory(phone_no="+254712345678")

    with db_refuses() as exc:
        models.PhoneNumber.objects.filter(pk=phone.pk).update(phone_sanitized="0712345678")

    assert "phone_is_e164" in str(exc.value)
    assert reloaded(phone).phone_sanitized == "+254712345678"


def test_same_phone_on_two_registrants_is_accepted():
    PhoneNumberFactory(phone_no="+254712345678")
    PhoneNumberFactory(phone_no="0712345678")

    assert models.PhoneNumber.objects.filter(phone_sanitized="+254712345678").count() == 2


def test_phone_collected_in_the_future_is_refused():
    with pytest.raises(ValidationError) as exc:
        models.PhoneNumber(
            registrant=IndividualFactory(), phone_no="0712345678", date_collected=today() + DAY
        ).save()

    assert exc.value.message_dict == {"date_collected": ["Date collected cannot be in the future."]}
    assert models.PhoneNumber.objects.count() == 0


def test_phone_collected_today_is_accepted_and_is_the_default():
    phone = PhoneNumberFactory()

    assert reloaded(phone).date_collected == today()


# ------------------------------------------------------------------------------------------
# Relationships
# ------------------------------------------------------------------------------------------


def spouse_of() -> models.RelationshipType:
    return models.RelationshipType.objects.get_or_create(
        name="Spouse of", defaults={"name_inverse": "Spouse of", "bidirectional": True}
    )[0]


def parent_of() -> models.RelationshipType:
    return models.RelationshipType.objects.get_or_create(
        name="Parent of", defaults={"name_inverse": "Child of"}
    )[0]


def at(year: int, month: int = 1, day: int = 1) -> datetime.datetime:
    return datetime.datetime(year, month, day, tzinfo=datetime.UTC)


def test_relationship_with_oneself_is_refused():
    person = IndividualFactory()

    with pytest.raises(ValidationError) as exc:
        models.Relationship(source=person, destination=person, relation=spouse_of()).save()

    assert exc.value.message_dict == {
        "destination": ["Registrant 1 and Registrant 2 cannot be the same."]
    }
    assert models.Relationship.objects.count() == 0


def test_database_refuses_relationship_with_oneself():
    person = IndividualFactory()

    with db_refuses() as exc:
        models.Relationship.objects.bulk_create(
            [models.Relationship(source=person, destination=person)]
        )

    assert "relationship_not_self" in str(exc.value)
    assert models.Relationship.objects.count() == 0


def test_relationship_starting_after_it_ends_is_refused():
    a, b = IndividualFactory(), IndividualFactory()

    with pytest.raises(ValidationError) as exc:
        models.Relationship(source=a, destination=b, start_date=at(2022), end_date=at(2021)).save()

    assert exc.value.message_dict == {
        "end_date": ["The starting date cannot be after the ending date."]
    }
    assert models.Relationship.objects.count() == 0


def test_database_refuses_relationship_starting_after_it_ends():
    a, b = IndividualFactory(), IndividualFactory()
    rel = models.Relationship.objects.create(
        source=a, destination=b, start_date=at(2020), end_date=at(2021)
    )

    with db_refuses() as exc:
        models.Relationship.objects.filter(pk=rel.pk).update(start_date=at(2022))

    assert "relationship_dates_ordered" in str(exc.value)
    assert reloaded(rel).start_date == at(2020)


def test_overlapping_relationship_of_the_same_type_is_refused():
    a, b = IndividualFactory(), IndividualFactory()
    models.Relationship.objects.create(
        source=a,
        destination=b,
        relation=spouse_of(),
        start_date=at(2020),
        end_date=at(2022, 12, 31),
    )

    with pytest.raises(ValidationError) as exc:
        models.Relationship(
            source=a, destination=b, relation=spouse_of(), start_date=at(2022, 6)
        ).save()

    assert exc.value.message_dict == {
        "relation": ["This relationship overlaps an existing one between the same registrants."]
    }
    assert models.Relationship.objects.count() == 1


def test_relationship_without_dates_overlaps_any_other_of_its_type():
    a, b = IndividualFactory(), IndividualFactory()
    models.Relationship.objects.create(
        source=a, destination=b, relation=spouse_of(), start_date=at(2020), end_date=at(2021)
    )

    with pytest.raises(ValidationError):
        models.Relationship(source=a, destination=b, relation=spouse_of()).save()

    assert models.Relationship.objects.count() == 1


def test_relationship_touching_the_end_of_another_overlaps():
    a, b = IndividualFactory(), IndividualFactory()
    models.Relationship.objects.create(
        source=a, destination=b, relation=spouse_of(), start_date=at(2020), end_date=at(2021)
    )

    with pytest.raises(ValidationError):
        models.Relationship(
            source=a, destination=b, relation=spouse_of(), start_date=at(2021)
        ).save()

    assert models.Relationship.objects.count() == 1


def test_database_refuses_overlapping_relationship():
    a, b = IndividualFactory(), IndividualFactory()
    models.Relationship.objects.create(
        source=a, destination=b, relation=spouse_of(), start_date=at(2020)
    )

    with db_refuses() as exc:
        models.Relationship.objects.bulk_create(
            [
                models.Relationship(
                    source=a, destination=b, relation=spouse_of(), start_date=at(2023)
                )
            ]
        )

    assert "overlaps an existing one" in str(exc.value)
    assert models.Relationship.objects.count() == 1


def test_database_refuses_overlapping_relationships_inserted_together():
    a, b = IndividualFactory(), IndividualFactory()

    with db_refuses():
        models.Relationship.objects.bulk_create(
            [
                models.Relationship(
                    source=a, destination=b, relation=spouse_of(), start_date=at(2020)
                ),
                models.Relationship(
                    source=a, destination=b, relation=spouse_of(), start_date=at(2023)
                ),
            ]
        )

    assert models.Relationship.objects.count() == 0


def test_relationships_over_separate_periods_are_accepted():
    a, b = IndividualFactory(), IndividualFactory()
    models.Relationship.objects.create(
        source=a, destination=b, relation=spouse_of(), start_date=at(2010), end_date=at(2012)
    )
    models.Relationship.objects.create(
        source=a, destination=b, relation=spouse_of(), start_date=at(2015)
    )
    models.Relationship.objects.bulk_create(
        [
            models.Relationship(
                source=a,
                destination=b,
                relation=spouse_of(),
                start_date=at(2001),
                end_date=at(2003),
            )
        ]
    )

    assert models.Relationship.objects.filter(source=a, destination=b).count() == 3


def test_relationships_of_different_types_may_overlap():
    a, b = IndividualFactory(), IndividualFactory()
    models.Relationship.objects.create(source=a, destination=b, relation=spouse_of())
    models.Relationship.objects.create(source=a, destination=b, relation=parent_of())

    assert models.Relationship.objects.filter(source=a, destination=b).count() == 2


def test_relationship_in_the_other_direction_is_another_relationship():
    a, b = IndividualFactory(), IndividualFactory()
    models.Relationship.objects.create(source=a, destination=b, relation=parent_of())
    models.Relationship.objects.create(source=b, destination=a, relation=parent_of())

    assert models.Relationship.objects.count() == 2


def test_relationship_type_restricts_the_kind_of_registrant():
    # Upstream g2p.reg.rel check 4: a relation typed "individual" on a side refuses a group there.
    individuals_only = models.RelationshipType.objects.create(
        name="Sibling of",
        name_inverse="Sibling of",
        source_type=PartnerType.INDIVIDUAL,
        destination_type=PartnerType.INDIVIDUAL,
    )
    person, group = IndividualFactory(), GroupFactory()

    with pytest.raises(ValidationError) as exc:
        models.Relationship(source=group, destination=person, relation=individuals_only).save()
    assert exc.value.message_dict == {
        "source": ["This registrant is not applicable for this relation type."]
    }

    with pytest.raises(ValidationError) as exc:
        models.Relationship(source=person, destination=group, relation=individuals_only).save()
    assert exc.value.message_dict == {
        "destination": ["This registrant is not applicable for this relation type."]
    }

    assert models.Relationship.objects.count() == 0


# ------------------------------------------------------------------------------------------
# Configuration lists: case-insensitive names, no empty names, upstream messages
# ------------------------------------------------------------------------------------------

CONFIG_LISTS = [
    # model, name field, extra fields, existing name, duplicate message, empty message
    (
        models.RegistrantTag,
        "name",
        {},
        "Urban",
        "Tag already exists",
        "Tag name should not be empty.",
    ),
    (models.GroupKind, "name", {}, "Household", "kind already exists", "kind should not be empty."),
    (models.MembershipKind, "name", {}, "Head", "kind already exists", "kind should not be empty."),
    (
        models.GenderType,
        "code",
        {"value": "F2"},
        "Female",
        "Gender type should be unique",
        "Gender type should not be empty.",
    ),
    (
        models.Bank,
        "name",
        {},
        "Equity Bank",
        "Bank already exists",
        "Bank name should not be empty.",
    ),
    (
        models.IdType,
        "name",
        {},
        "National ID",
        "Id type already exists",
        "Id type should not be empty.",
    ),
    (
        models.RelationshipType,
        "name",
        {"name_inverse": "Child of"},
        "Parent of",
        "Relationship type already exists",
        "Name should not be empty.",
    ),
]


def _ensure(model, field: str, name: str, extra: dict) -> None:  # type: ignore[no-untyped-def]
    if not model.objects.filter(**{f"{field}__iexact": name}).exists():
        model.objects.create(**{field: name}, **extra)


@pytest.mark.parametrize(
    ("model", "field", "extra", "existing", "duplicate", "empty"), CONFIG_LISTS
)
def test_configuration_names_are_unique_case_insensitively(
    model, field, extra, existing, duplicate, empty
):
    _ensure(model, field, existing, {k: f"{v}-0" for k, v in extra.items()})
    before = sorted(model.objects.values_list(field, flat=True))

    for variant in (existing.upper(), existing.lower()):
        with pytest.raises(ValidationError) as exc:
            model(**{field: variant}, **extra).save()
        assert exc.value.messages == [duplicate]

    assert sorted(model.objects.values_list(field, flat=True)) == before


@pytest.mark.parametrize(
    ("model", "field", "extra", "existing", "duplicate", "empty"), CONFIG_LISTS
)
def test_database_refuses_configuration_names_differing_by_case(
    model, field, extra, existing, duplicate, empty
):
    _ensure(model, field, existing, {k: f"{v}-0" for k, v in extra.items()})
    count = model.objects.count()

    with db_refuses():
        model.objects.bulk_create([model(**{field: existing.swapcase()}, **extra)])

    assert model.objects.count() == count


@pytest.mark.parametrize(
    ("model", "field", "extra", "existing", "duplicate", "empty"), CONFIG_LISTS
)
def test_configuration_names_may_not_be_empty(model, field, extra, existing, duplicate, empty):
    count = model.objects.count()

    with pytest.raises(ValidationError) as exc:
        model(**{field: "   "}, **extra).save()

    assert exc.value.message_dict == {field: [empty]}
    assert model.objects.count() == count


def test_gender_value_may_not_be_empty():
    with pytest.raises(ValidationError) as exc:
        models.GenderType(code="Non-binary", value="  ").save()

    assert exc.value.message_dict == {"value": ["Gender value should not be empty."]}
    assert models.GenderType.objects.count() == 3


def test_relationship_type_needs_an_inverse_name():
    with pytest.raises(ValidationError) as exc:
        models.RelationshipType(name="Guardian of", name_inverse="  ").save()

    assert exc.value.message_dict == {"name_inverse": ["Inverse name should not be empty."]}
    assert models.RelationshipType.objects.count() == 0


def test_seeded_configuration_lists():
    assert sorted(models.GroupKind.objects.values_list("name", flat=True)) == [
        "Family",
        "Household",
    ]
    assert sorted(models.GenderType.objects.values_list("code", "value")) == [
        ("Female", "Female"),
        ("Male", "Male"),
        ("Other", "Other"),
    ]
    assert list(models.MembershipKind.objects.values_list("name", "is_unique", "protected")) == [
        ("Head", True, True)
    ]


def test_bank_bic_must_have_8_or_11_letters_and_digits():
    for bic in ("KCBLKENX", "KCBLKENXXXX", "EQBLKENA001"):
        models.Bank.objects.create(name=f"Bank {bic}", bic=bic)

    for bic in ("kcblkenx", "KCB1KENX", "KCBLKENX1", "KCBLKE", "KCBLKENX-01"):
        with pytest.raises(ValidationError) as exc:
            models.Bank(name=f"Other bank {bic}", bic=bic).save()
        assert (
            exc.value.message_dict["bic"][-1]
            == "A BIC has 8 or 11 letters and digits, e.g. KCBLKENX."
        )

    assert sorted(models.Bank.objects.values_list("bic", flat=True)) == [
        "EQBLKENA001",
        "KCBLKENX",
        "KCBLKENXXXX",
    ]


def test_bank_without_bic_is_accepted():
    bank = models.Bank.objects.create(name="Village SACCO")

    assert reloaded(bank).bic == ""


def test_registrant_tag_colour_must_be_between_0_and_11():
    with pytest.raises(ValidationError):
        models.RegistrantTag(name="Urban", color=12).save()
    with db_refuses():
        models.RegistrantTag.objects.bulk_create([models.RegistrantTag(name="Urban", color=12)])

    assert models.RegistrantTag.objects.count() == 0
