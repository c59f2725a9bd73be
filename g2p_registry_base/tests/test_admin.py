"""The registry back office through the Django test client: lists, search, filters, forms,
inlines, actions, roles, history, imports and query counts."""

from __future__ import annotations

import datetime
from typing import Any
from unittest import mock

import pghistory
import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from g2p_registry_base import factories, services
from g2p_registry_base.forms import MembershipInlineFormSet
from g2p_registry_base.models import (
    Bank,
    BankAccount,
    GroupKind,
    GroupMembership,
    IdType,
    MembershipKind,
    PhoneNumber,
    Registrant,
    RegistrantId,
    RegistrantTag,
    Relationship,
    RelationshipType,
)
from g2p_registry_base.querysets import years_before

pytestmark = pytest.mark.django_db

INDIVIDUAL_PREFIXES = (
    "reg_ids",
    "phone_numbers",
    "individual_memberships",
    "bank_accounts",
    "related_2_ids",
)
GROUP_PREFIXES = ("group_memberships", "reg_ids", "phone_numbers", "bank_accounts", "related_2_ids")


def url(name: str, *args: Any, **kwargs: Any) -> str:
    return reverse(f"admin:g2p_registry_base_{name}", args=args or None, kwargs=kwargs or None)


def listed(response: Any) -> list[str]:
    assert response.status_code == 200
    return [obj.name for obj in response.context["cl"].result_list]


def management(prefix: str, total: int = 0, initial: int = 0) -> dict[str, Any]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def empty_inlines(prefixes: tuple[str, ...]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for prefix in prefixes:
        data.update(management(prefix))
    return data


def company_id() -> int:
    from g2p_registry_base.models import Company

    return Company.objects.order_by("pk").values_list("pk", flat=True).first()


def individual_post(**overrides: Any) -> dict[str, Any]:
    data = {
        "given_name": "Amina",
        "family_name": "Otieno",
        "addl_name": "",
        "gender": "Female",
        "birthdate": "1990-05-17",
        "birth_place": "Kisumu",
        "civil_status": "",
        "occupation": "",
        "income": "",
        "registration_date": "2024-01-10",
        "company": str(company_id()),
        "email": "amina@example.org",
        "address": "Plot 4, Kisumu",
        "additional_g2p_info": "{}",
        **empty_inlines(INDIVIDUAL_PREFIXES),
    }
    data.update(overrides)
    return data


def person(given: str, family: str, **kwargs: Any) -> Registrant:
    return factories.IndividualFactory(given_name=given, family_name=family, **kwargs)


@pytest.fixture
def national_id() -> IdType:
    return IdType.objects.create(name="National ID", id_validation=r"[0-9]{8}")


@pytest.fixture
def head() -> MembershipKind:
    return MembershipKind.objects.get(name="Head")


# --------------------------------------------------------------------------------------------
# Lists
# --------------------------------------------------------------------------------------------


def test_individual_list_shows_individuals_with_columns(client, admin_user, national_id):
    today = timezone.localdate()
    amina = person("Amina", "Otieno", birthdate=years_before(today, 34))
    RegistrantId.objects.create(registrant=amina, id_type=national_id, value="12345678")
    tag = RegistrantTag.objects.create(name="Farmer")
    amina.tags.add(tag)
    person("Brian", "Kamau", gender_id="Male")
    factories.GroupFactory(name="Household Otieno")
    client.force_login(admin_user)

    response = client.get(url("individual_changelist"))

    assert listed(response) == ["KAMAU, BRIAN", "OTIENO, AMINA"]
    row = response.context["cl"].result_list[1]
    assert (row.age_years, row.main_id, row.tag_names) == (34, "National ID: 12345678", ["Farmer"])
    html = response.content.decode()
    assert "National ID: 12345678" in html
    assert "Farmer" in html
    assert 'href="/admin/g2p_registry_base/individual/export/xlsx/"' in html
    assert 'href="/admin/g2p_registry_base/individual/export/csv/"' in html


def test_group_list_shows_groups_with_member_count(client, admin_user):
    household = GroupKind.objects.get(name="Household")
    big = factories.GroupFactory(name="Household A", kind=household)
    factories.GroupFactory(name="Household B")
    for given in ("Ann", "Ben", "Cid"):
        GroupMembership.objects.create(group=big, individual=person(given, "A"))
    ended = GroupMembership.objects.create(group=big, individual=person("Dan", "A"))
    ended.ended_date = timezone.now() - datetime.timedelta(days=1)
    ended.start_date = timezone.now() - datetime.timedelta(days=10)
    ended.save()
    client.force_login(admin_user)

    response = client.get(url("group_changelist"))

    assert listed(response) == ["Household B", "Household A"]
    counts = {
        g.name: (g.member_count, g.kind and g.kind.name) for g in response.context["cl"].result_list
    }
    assert counts == {"Household A": (3, "Household"), "Household B": (0, None)}


def test_list_sorts_by_age(client, admin_user):
    today = timezone.localdate()
    person("Old", "One", birthdate=years_before(today, 70))
    person("Young", "One", birthdate=years_before(today, 10))
    person("Mid", "One", birthdate=years_before(today, 40))
    client.force_login(admin_user)
    age_column = 3  # 0 checkbox, 1 name, 2 gender, 3 age
    response = client.get(url("individual_changelist"), {"o": str(age_column)})
    assert listed(response) == ["ONE, YOUNG", "ONE, MID", "ONE, OLD"]


# --------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------


@pytest.fixture
def searchable(national_id):
    amina = person("Amina", "Otieno")
    brian = person("Brian", "Kamau")
    carol = person("Carol", "Otieno-Wanjiru")
    RegistrantId.objects.create(registrant=amina, id_type=national_id, value="20304050")
    RegistrantId.objects.create(registrant=brian, id_type=national_id, value="20304051")
    PhoneNumber.objects.create(registrant=brian, phone_no="+254712345678")
    PhoneNumber.objects.create(registrant=carol, phone_no="+254733000111")
    return {"amina": amina, "brian": brian, "carol": carol}


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("otien", ["OTIENO-WANJIRU, CAROL", "OTIENO, AMINA"]),
        ("20304050", ["OTIENO, AMINA"]),
        ("2030405", []),
        ("+254712345678", ["KAMAU, BRIAN"]),
        ("0712345678", ["KAMAU, BRIAN"]),
        ("0712 345 678", ["KAMAU, BRIAN"]),
        ("712345678", ["KAMAU, BRIAN"]),
        ("0733000111", ["OTIENO-WANJIRU, CAROL"]),
    ],
)
def test_search_by_name_id_and_phone(client, admin_user, searchable, term, expected):
    client.force_login(admin_user)
    assert listed(client.get(url("individual_changelist"), {"q": term})) == expected


def test_search_groups_by_name(client, admin_user):
    factories.GroupFactory(name="Household Alpha")
    factories.GroupFactory(name="Household Beta")
    client.force_login(admin_user)
    assert listed(client.get(url("group_changelist"), {"q": "alph"})) == ["Household Alpha"]


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------


@pytest.fixture
def population():
    today = timezone.localdate()
    farmer = RegistrantTag.objects.create(name="Farmer")
    child = person("Child", "A", birthdate=years_before(today, 3))
    teen = person("Teen", "B", birthdate=years_before(today, 17), gender_id="Male")
    adult = person(
        "Adult", "C", birthdate=years_before(today, 18), registration_date=datetime.date(2023, 6, 1)
    )
    elder = person("Elder", "D", birthdate=years_before(today, 60), gender_id="Male")
    nobirth = person("Nobirth", "E", birthdate=None)
    adult.tags.add(farmer)
    elder.tags.add(farmer)
    Registrant.objects.filter(pk=teen.pk).update(
        disabled=timezone.now(), disabled_reason="Moved away"
    )
    return {
        "farmer": farmer,
        "child": child,
        "teen": teen,
        "adult": adult,
        "elder": elder,
        "nobirth": nobirth,
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"gender": "Male"}, ["D, ELDER", "B, TEEN"]),
        ({"gender": "Female"}, ["E, NOBIRTH", "C, ADULT", "A, CHILD"]),
        ({"age": "0-4"}, ["A, CHILD"]),
        ({"age": "5-17"}, ["B, TEEN"]),
        ({"age": "18-59"}, ["C, ADULT"]),
        ({"age": "60+"}, ["D, ELDER"]),
        ({"disabled": "yes"}, ["B, TEEN"]),
        ({"disabled": "no"}, ["E, NOBIRTH", "D, ELDER", "C, ADULT", "A, CHILD"]),
        (
            {"registration_date_from": "2023-01-01", "registration_date_to": "2023-12-31"},
            ["C, ADULT"],
        ),
        ({"gender": "Male", "disabled": "no"}, ["D, ELDER"]),
    ],
)
def test_individual_filters(client, admin_user, population, params, expected):
    client.force_login(admin_user)
    assert listed(client.get(url("individual_changelist"), params)) == expected


def test_tag_filter(client, admin_user, population):
    client.force_login(admin_user)
    response = client.get(url("individual_changelist"), {"tag": str(population["farmer"].pk)})
    assert listed(response) == ["D, ELDER", "C, ADULT"]


def test_group_kind_filter(client, admin_user):
    household = GroupKind.objects.get(name="Household")
    family = GroupKind.objects.get(name="Family")
    factories.GroupFactory(name="H1", kind=household)
    factories.GroupFactory(name="F1", kind=family)
    factories.GroupFactory(name="H2", kind=household)
    client.force_login(admin_user)
    assert listed(client.get(url("group_changelist"), {"kind__id__exact": household.pk})) == [
        "H2",
        "H1",
    ]
    assert listed(client.get(url("group_changelist"), {"kind__id__exact": family.pk})) == ["F1"]


# --------------------------------------------------------------------------------------------
# Forms and inlines
# --------------------------------------------------------------------------------------------


def test_individual_change_form_renders_with_inlines(client, admin_user, national_id):
    amina = person("Amina", "Otieno")
    RegistrantId.objects.create(registrant=amina, id_type=national_id, value="12345678")
    PhoneNumber.objects.create(registrant=amina, phone_no="0712345678")
    group = factories.GroupFactory(name="Household A")
    GroupMembership.objects.create(group=group, individual=amina)
    client.force_login(admin_user)

    response = client.get(url("individual_change", amina.pk))

    assert response.status_code == 200
    formsets = {f.formset.prefix: f.formset for f in response.context["inline_admin_formsets"]}
    assert tuple(formsets) == INDIVIDUAL_PREFIXES
    assert [f.instance.value for f in formsets["reg_ids"].forms] == ["12345678"]
    assert [f.instance.phone_sanitized for f in formsets["phone_numbers"].forms] == [
        "+254712345678"
    ]
    assert [f.instance.group.name for f in formsets["individual_memberships"].forms] == [
        "Household A"
    ]
    html = response.content.decode()
    assert "+254712345678" in html
    assert "OTIENO, AMINA" in html
    assert "Household A" in html  # the autocomplete's selected option, labelled without a query


def test_group_change_form_renders_members(client, admin_user, head):
    group = factories.GroupFactory(name="Household A")
    membership = GroupMembership.objects.create(group=group, individual=person("Ann", "A"))
    membership.kinds.add(head)
    GroupMembership.objects.create(group=group, individual=person("Ben", "A"))
    client.force_login(admin_user)

    response = client.get(url("group_change", group.pk))

    assert response.status_code == 200
    formsets = {f.formset.prefix: f.formset for f in response.context["inline_admin_formsets"]}
    assert tuple(formsets) == GROUP_PREFIXES
    members = formsets["group_memberships"].forms
    assert sorted(f.instance.individual.name for f in members) == ["A, ANN", "A, BEN"]
    assert response.context["original"].member_count == 2
    assert "A, ANN" in response.content.decode()


def test_add_individual_with_id_and_phone(client, admin_user, national_id):
    client.force_login(admin_user)
    data = individual_post(
        **management("reg_ids", total=1),
        **{"reg_ids-0-id_type": str(national_id.pk), "reg_ids-0-value": "87654321"},
        **management("phone_numbers", total=1),
        **{
            "phone_numbers-0-phone_no": "0712 345 678",
            "phone_numbers-0-date_collected": "2024-01-10",
        },
    )

    response = client.post(url("individual_add"), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    created = Registrant.objects.get()
    assert (created.name, created.is_group, created.gender_id, created.birthdate) == (
        "OTIENO, AMINA",
        False,
        "Female",
        datetime.date(1990, 5, 17),
    )
    assert list(created.reg_ids.values_list("id_type__name", "value")) == [
        ("National ID", "87654321")
    ]
    assert list(created.phone_numbers.values_list("phone_no", "phone_sanitized")) == [
        ("0712 345 678", "+254712345678")
    ]


def test_invalid_id_value_is_a_form_error_and_creates_nothing(client, admin_user, national_id):
    client.force_login(admin_user)
    data = individual_post(
        **management("reg_ids", total=1),
        **{"reg_ids-0-id_type": str(national_id.pk), "reg_ids-0-value": "1234abcd"},
    )

    response = client.post(url("individual_add"), data)

    assert response.status_code == 200
    formset = next(
        f.formset
        for f in response.context["inline_admin_formsets"]
        if f.formset.prefix == "reg_ids"
    )
    assert formset.errors == [{"value": ["The provided National ID ID '1234abcd' is invalid."]}]
    assert Registrant.objects.count() == 0
    assert RegistrantId.objects.count() == 0


def test_invalid_phone_is_a_form_error_and_creates_nothing(client, admin_user):
    client.force_login(admin_user)
    data = individual_post(
        **management("phone_numbers", total=1),
        **{"phone_numbers-0-phone_no": "12", "phone_numbers-0-date_collected": "2024-01-10"},
    )

    response = client.post(url("individual_add"), data)

    assert response.status_code == 200
    formset = next(
        f.formset
        for f in response.context["inline_admin_formsets"]
        if f.formset.prefix == "phone_numbers"
    )
    assert formset.errors == [{"phone_no": ["'12' is not a valid phone number."]}]
    assert Registrant.objects.count() == 0
    assert PhoneNumber.objects.count() == 0


def test_invalid_main_field_names_the_field(client, admin_user):
    client.force_login(admin_user)
    response = client.post(url("individual_add"), individual_post(birthdate="2999-01-01"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "birthdate": ["You can't select a date of birth greater than today."],
        "registration_date": ["Registration date must be later than the birth date."],
    }
    assert Registrant.objects.count() == 0


def group_post(
    group: Registrant, memberships: list[dict[str, Any]], extra: list[dict[str, Any]]
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": group.name,
        "kind": "",
        "registration_date": group.registration_date.isoformat(),
        "company": str(group.company_id),
        "email": "",
        "address": "",
        "additional_g2p_info": "{}",
        **empty_inlines(GROUP_PREFIXES),
        **management(
            "group_memberships", total=len(memberships) + len(extra), initial=len(memberships)
        ),
    }
    for i, row in enumerate([*memberships, *extra]):
        prefix = f"group_memberships-{i}"
        data[f"{prefix}-id"] = str(row.get("id", ""))
        data[f"{prefix}-group"] = str(group.pk)
        data[f"{prefix}-individual"] = str(row["individual"])
        data[f"{prefix}-kinds"] = [str(k) for k in row.get("kinds", [])]
        data[f"{prefix}-start_date_0"] = "2024-01-10"
        data[f"{prefix}-start_date_1"] = "10:00:00"
        data[f"{prefix}-ended_date_0"] = ""
        data[f"{prefix}-ended_date_1"] = ""
    return data


@pytest.fixture
def headed_group(head):
    group = factories.GroupFactory(name="Household A")
    ann = person("Ann", "A")
    ben = person("Ben", "A")
    first = GroupMembership.objects.create(group=group, individual=ann)
    first.kinds.add(head)
    return {"group": group, "ann": ann, "ben": ben, "first": first}


def _memberships(group: Registrant) -> list[tuple[str, list[str]]]:
    return [
        (m.individual.name, sorted(k.name for k in m.kinds.all()))
        for m in GroupMembership.objects.filter(group=group).order_by("pk")
    ]


def test_second_head_via_group_inline_is_refused(client, admin_user, headed_group, head):
    group, ann, ben, first = (headed_group[k] for k in ("group", "ann", "ben", "first"))
    client.force_login(admin_user)
    data = group_post(
        group,
        [{"id": first.pk, "individual": ann.pk, "kinds": [head.pk]}],
        [{"individual": ben.pk, "kinds": [head.pk]}],
    )

    response = client.post(url("group_change", group.pk), data)

    assert response.status_code == 200
    formset = next(
        f.formset
        for f in response.context["inline_admin_formsets"]
        if f.formset.prefix == "group_memberships"
    )
    assert formset.errors == [{}, {"kinds": ["Only one Head is allowed per group"]}]
    assert "Only one Head is allowed per group" in response.content.decode()
    assert _memberships(group) == [("A, ANN", ["Head"])]


def test_moving_head_between_members_in_one_save_works(client, admin_user, headed_group, head):
    group, ann, ben, first = (headed_group[k] for k in ("group", "ann", "ben", "first"))
    client.force_login(admin_user)
    data = group_post(
        group,
        [{"id": first.pk, "individual": ann.pk, "kinds": []}],
        [{"individual": ben.pk, "kinds": [head.pk]}],
    )
    response = client.post(url("group_change", group.pk), data)
    assert response.status_code == 302
    assert _memberships(group) == [("A, ANN", []), ("A, BEN", ["Head"])]


def test_head_held_outside_the_formset_is_counted(client, admin_user, headed_group, head):
    """From the individual's form: Ben joins Ann's group as a second Head."""
    group, ben = headed_group["group"], headed_group["ben"]
    client.force_login(admin_user)
    data = individual_post(
        given_name="Ben",
        family_name="A",
        **management("individual_memberships", total=1),
        **{
            "individual_memberships-0-group": str(group.pk),
            "individual_memberships-0-kinds": [str(head.pk)],
            "individual_memberships-0-start_date_0": "2024-01-10",
            "individual_memberships-0-start_date_1": "10:00:00",
        },
    )
    response = client.post(url("individual_change", ben.pk), data)
    assert response.status_code == 200
    formset = next(
        f.formset
        for f in response.context["inline_admin_formsets"]
        if f.formset.prefix == "individual_memberships"
    )
    assert formset.errors == [{"kinds": ["Only one Head is allowed per group"]}]
    assert _memberships(group) == [("A, ANN", ["Head"])]
    assert Registrant.objects.get(pk=ben.pk).email == ""


def test_database_refusal_is_shown_not_a_500(client, admin_user, headed_group, head):
    """If the form check is bypassed (a concurrent save), the trigger's error is shown."""
    group, ann, ben, first = (headed_group[k] for k in ("group", "ann", "ben", "first"))
    client.force_login(admin_user)
    data = group_post(
        group,
        [{"id": first.pk, "individual": ann.pk, "kinds": [head.pk]}],
        [{"individual": ben.pk, "kinds": [head.pk]}],
    )
    data["name"] = "Household Renamed"

    with mock.patch.object(MembershipInlineFormSet, "clean", lambda self: None):
        response = client.post(url("group_change", group.pk), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "Only one Head is allowed per group"
    ]
    assert "Only one Head is allowed per group" in response.content.decode()
    assert _memberships(group) == [("A, ANN", ["Head"])]
    assert Registrant.objects.get(pk=group.pk).name == "Household A"


# --------------------------------------------------------------------------------------------
# Disable / enable
# --------------------------------------------------------------------------------------------


def test_disable_action_asks_for_a_reason_then_disables(client, registry_admin):
    amina, brian, carol = person("Amina", "A"), person("Brian", "B"), person("Carol", "C")
    client.force_login(registry_admin)
    selection = {"action": "disable_registrants", "_selected_action": [amina.pk, brian.pk]}

    page = client.post(url("individual_changelist"), selection)
    assert page.status_code == 200
    assert page.context["count"] == 2
    assert Registrant.objects.filter(disabled__isnull=False).count() == 0

    empty = client.post(url("individual_changelist"), {**selection, "apply": "1", "reason": "  "})
    assert empty.status_code == 200
    assert empty.context["form"].errors == {"reason": ["This field is required."]}

    before = timezone.now()
    done = client.post(
        url("individual_changelist"), {**selection, "apply": "1", "reason": "Moved abroad"}
    )
    assert done.status_code == 302
    rows = {
        r.pk: (r.disabled is not None and r.disabled >= before, r.disabled_reason, r.disabled_by_id)
        for r in Registrant.objects.all()
    }
    assert rows == {
        amina.pk: (True, "Moved abroad", registry_admin.pk),
        brian.pk: (True, "Moved abroad", registry_admin.pk),
        carol.pk: (False, "", None),
    }

    enabled = client.post(
        url("individual_changelist"),
        {"action": "enable_registrants", "_selected_action": [amina.pk]},
    )
    assert enabled.status_code == 302
    amina.refresh_from_db()
    assert (amina.disabled, amina.disabled_reason, amina.disabled_by_id) == (None, "", None)
    assert Registrant.objects.get(pk=brian.pk).disabled is not None


def test_disable_and_enable_buttons_on_the_form(client, registry_admin):
    amina = person("Amina", "A")
    client.force_login(registry_admin)

    form = client.get(url("individual_change", amina.pk))
    detail_titles = [a["title"] for a in form.context["actions_detail"]]
    assert detail_titles == ["Disable"]

    assert client.get(url("individual_disable_detail", amina.pk)).status_code == 200
    response = client.post(url("individual_disable_detail", amina.pk), {"reason": "Deceased"})
    assert response.status_code == 302
    amina.refresh_from_db()
    assert (amina.disabled_reason, amina.disabled_by_id, amina.disabled is not None) == (
        "Deceased",
        registry_admin.pk,
        True,
    )

    form = client.get(url("individual_change", amina.pk))
    assert [a["title"] for a in form.context["actions_detail"]] == ["Enable"]
    html = form.content.decode()
    assert 'id="disabled-banner"' in html
    assert "Deceased" in html

    assert client.get(url("individual_enable_detail", amina.pk)).status_code == 200
    amina.refresh_from_db()
    assert amina.disabled is not None  # GET only asks
    assert client.post(url("individual_enable_detail", amina.pk)).status_code == 302
    amina.refresh_from_db()
    assert (amina.disabled, amina.disabled_reason, amina.disabled_by_id) == (None, "", None)


# --------------------------------------------------------------------------------------------
# Roles
# --------------------------------------------------------------------------------------------


def test_registrar_adds_and_changes_but_cannot_delete_or_disable(client, registrar, national_id):
    client.force_login(registrar)
    data = individual_post(
        **management("reg_ids", total=1),
        **{"reg_ids-0-id_type": str(national_id.pk), "reg_ids-0-value": "87654321"},
    )
    response = client.post(url("individual_add"), data)
    assert response.status_code == 302, (
        response.context["adminform"].form.errors,
        [f.formset.errors for f in response.context["inline_admin_formsets"]],
    )
    created = Registrant.objects.get()
    assert created.reg_ids.get().value == "87654321"

    change = individual_post(given_name="Aminah")
    assert client.post(url("individual_change", created.pk), change).status_code == 302
    created.refresh_from_db()
    assert created.name == "OTIENO, AMINAH"

    changelist = client.get(url("individual_changelist"))
    assert changelist.context["action_form"] is None  # neither delete nor disable/enable
    form = client.get(url("individual_change", created.pk))
    assert form.context["has_delete_permission"] is False
    assert form.context["actions_detail"] == []
    assert (
        f'href="/admin/g2p_registry_base/individual/{created.pk}/delete/"'
        not in form.content.decode()
    )

    assert client.get(url("individual_delete", created.pk)).status_code == 403
    assert client.post(url("individual_delete", created.pk), {"post": "yes"}).status_code == 403
    assert Registrant.objects.filter(pk=created.pk).exists()

    refused = client.post(
        url("individual_changelist"),
        {
            "action": "disable_registrants",
            "_selected_action": [created.pk],
            "apply": "1",
            "reason": "x",
        },
    )
    assert refused.status_code == 200
    assert "cl" in refused.context and "form" not in refused.context  # the list, no reason page
    with pytest.raises(PermissionDenied):
        services.registrants_disable(registrant_ids=[created.pk], reason="x", actor=registrar)
    assert (
        client.post(url("individual_disable_detail", created.pk), {"reason": "x"}).status_code
        == 403
    )
    created.refresh_from_db()
    assert (created.disabled, created.disabled_reason) == (None, "")


def test_viewer_sees_read_only_forms_and_cannot_post(client, viewer):
    amina = person("Amina", "Otieno")
    client.force_login(viewer)

    assert listed(client.get(url("individual_changelist"))) == ["OTIENO, AMINA"]
    form = client.get(url("individual_change", amina.pk))
    assert form.status_code == 200
    assert form.context["has_change_permission"] is False
    assert 'name="given_name"' not in form.content.decode()

    response = client.post(
        url("individual_change", amina.pk), individual_post(given_name="Changed")
    )
    assert response.status_code == 403
    assert client.get(url("individual_add")).status_code == 403
    assert client.post(url("individual_add"), individual_post()).status_code == 403
    assert (
        client.post(url("individual_disable_detail", amina.pk), {"reason": "x"}).status_code == 403
    )
    amina.refresh_from_db()
    assert (amina.name, amina.disabled) == ("OTIENO, AMINA", None)
    assert Registrant.objects.count() == 1


def test_protected_head_kind_is_read_only(client, admin_user, head):
    client.force_login(admin_user)
    form = client.get(url("membershipkind_change", head.pk))
    assert form.status_code == 200
    assert form.context["has_change_permission"] is False
    assert client.post(url("membershipkind_change", head.pk), {"name": "Chief"}).status_code == 403
    assert client.post(url("membershipkind_delete", head.pk), {"post": "yes"}).status_code == 403
    head.refresh_from_db()
    assert (head.name, head.is_unique) == ("Head", True)


def test_protected_kind_survives_bulk_delete(client, admin_user, head):
    other = MembershipKind.objects.create(name="Recipient")
    client.force_login(admin_user)
    response = client.post(
        url("membershipkind_changelist"),
        {"action": "delete_selected", "_selected_action": [head.pk, other.pk], "post": "yes"},
    )
    assert response.status_code == 403
    assert list(MembershipKind.objects.values_list("name", flat=True)) == ["Head", "Recipient"]
    response = client.post(
        url("membershipkind_changelist"),
        {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert list(MembershipKind.objects.values_list("name", flat=True)) == ["Head"]


# --------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------


def test_history_shows_the_update_with_old_and_new_values(client, admin_user, national_id):
    client.force_login(admin_user)
    assert client.post(url("individual_add"), individual_post()).status_code == 302
    amina = Registrant.objects.get()
    data = individual_post(
        given_name="Aminah",
        **management("reg_ids", total=1),
        **{"reg_ids-0-id_type": str(national_id.pk), "reg_ids-0-value": "87654321"},
    )
    assert client.post(url("individual_change", amina.pk), data).status_code == 302

    response = client.get(url("individual_history", amina.pk))

    assert response.status_code == 200
    # The test runs in one transaction, so every event has the same timestamp: compare as a set.
    events = {(e["label"], e["object"], e["who"]): e for e in response.context["page"].object_list}
    reg_id = f"Registrant ID #{amina.reg_ids.get().pk}"
    assert set(events) == {
        ("update", "Registrant", "root"),
        ("insert", reg_id, "root"),
        ("insert", "Registrant", "root"),
    }
    update = events[("update", "Registrant", "root")]
    assert update["changes"] == [
        {"field": "Name", "old": "OTIENO, AMINA", "new": "OTIENO, AMINAH"},
        {"field": "Given name", "old": "Amina", "new": "Aminah"},
    ]
    assert events[("insert", reg_id, "root")]["changes"] == [
        {"field": "ID type", "old": "", "new": "National ID"},
        {"field": "Value", "old": "", "new": "87654321"},
    ]
    html = response.content.decode()
    assert "Amina</span> → <span" in html
    assert "Aminah" in html


# --------------------------------------------------------------------------------------------
# Query counts
# --------------------------------------------------------------------------------------------


def _make_individuals(n: int, national_id: IdType, tag: RegistrantTag) -> list[Registrant]:
    people = []
    for i in range(n):
        p = person(f"Given{i}", "Family")
        RegistrantId.objects.create(registrant=p, id_type=national_id, value=f"{i:08d}")
        PhoneNumber.objects.create(registrant=p, phone_no=f"+2547{i:08d}")
        p.tags.add(tag)
        people.append(p)
    return people


def _count(client: Any, path: str, params: dict[str, Any] | None = None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, params or {})
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_changelists_use_the_same_number_of_queries_for_5_and_50(client, admin_user, national_id):
    tag = RegistrantTag.objects.create(name="Farmer")
    client.force_login(admin_user)
    _make_individuals(5, national_id, tag)
    groups = [
        factories.GroupFactory(name=f"G{i}", kind=GroupKind.objects.get(name="Household"))
        for i in range(5)
    ]
    for g in groups:
        g.tags.add(tag)
    small = (
        _count(client, url("individual_changelist")),
        _count(client, url("group_changelist")),
        _count(
            client, url("individual_changelist"), {"q": "given", "gender": "Female", "age": "18-59"}
        ),
    )
    _make_individuals(45, national_id, tag)
    for i in range(45):
        factories.GroupFactory(name=f"H{i}", kind=GroupKind.objects.get(name="Family")).tags.add(
            tag
        )
    large = (
        _count(client, url("individual_changelist")),
        _count(client, url("group_changelist")),
        _count(
            client, url("individual_changelist"), {"q": "given", "gender": "Female", "age": "18-59"}
        ),
    )
    assert small == large
    print("changelist queries (individuals, groups, filtered):", small)


def test_change_forms_use_the_same_number_of_queries_for_5_and_50(
    client, admin_user, national_id, head
):
    tag = RegistrantTag.objects.create(name="Farmer")
    rel_type = RelationshipType.objects.create(name="Sibling", name_inverse="Sibling")
    bank = Bank.objects.create(name="KCB")
    client.force_login(admin_user)

    def build(n: int) -> tuple[Registrant, Registrant]:
        group = factories.GroupFactory(name=f"Household {n}")
        main = person("Main", f"Person{n}")
        members = _make_individuals(n, national_id, tag)
        for i, m in enumerate(members):
            membership = GroupMembership.objects.create(group=group, individual=m)
            if i == 0:
                membership.kinds.add(head)
            BankAccount.objects.create(registrant=group, bank=bank, acc_number=f"ACC{n}{i:04d}")
            Relationship.objects.create(source=main, destination=m, relation=rel_type)
            GroupMembership.objects.create(
                group=factories.GroupFactory(name=f"Other {n}-{i}"), individual=main
            )
            RegistrantId.objects.create(
                registrant=group,
                id_type=IdType.objects.get_or_create(name=f"Type {i}")[0],
                value=f"V{i}",
            )
            PhoneNumber.objects.create(registrant=main, phone_no=f"+2547{n:02d}{i:06d}")
        return group, main

    # Events made inside the test's transaction inherit the last request's audit context, so
    # give both data sets the same one.
    with pghistory.context(user=admin_user.pk, url="/test"):
        group5, main5 = build(5)
    counts5 = (
        _count(client, url("group_change", group5.pk)),
        _count(client, url("individual_change", main5.pk)),
        _count(client, url("individual_history", main5.pk)),
    )
    with pghistory.context(user=admin_user.pk, url="/test"):
        group50, main50 = build(50)
    counts50 = (
        _count(client, url("group_change", group50.pk)),
        _count(client, url("individual_change", main50.pk)),
        _count(client, url("individual_history", main50.pk)),
    )
    assert counts5 == counts50
    print("change form queries (group, individual, history):", counts5)


# --------------------------------------------------------------------------------------------
# Imports
# --------------------------------------------------------------------------------------------

IMPORT_CSV = (
    "type,id:National ID,group_ref,membership_kinds,name,given_name,family_name,gender,birthdate,"
    "registration_date,phones\n"
    "group,10000001,,,Mwangi household,,,,,2024-03-01,\n"
    "individual,10000002,10000001,Head,,Grace,Mwangi,Female,1985-06-14,2024-03-01,+254712000002\n"
    "individual,10000003,10000001,,,Peter,Mwangi,Alien,2012-01-30,2024-03-01,\n"
)


def _upload(client: Any, mode: str, content: str = IMPORT_CSV, name: str = "households.csv") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(name, content.encode("utf-8"), content_type="text/csv")
    return client.post(url("registryimport_add"), {"file": upload, "mode": mode})


def test_import_upload_preview_then_confirm(client, registrar, national_id):
    from g2p_registry_base.models import ImportState, RegistryImport

    client.force_login(registrar)
    assert client.get(url("registryimport_add")).status_code == 200

    response = _upload(client, "skip_invalid")
    registry_import = RegistryImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("registryimport_change", registry_import.pk)
    assert (registry_import.state, registry_import.rows_total, registry_import.rows_invalid) == (
        ImportState.VALIDATED,
        3,
        1,
    )
    assert Registrant.objects.count() == 0

    preview = client.get(url("registryimport_change", registry_import.pk))
    assert preview.status_code == 200
    errors = list(preview.context["page"].object_list)
    assert [(e["row"], e["field"]) for e in errors] == [(4, "gender")]
    html = preview.content.decode()
    assert escape(errors[0]["message"]) in html
    assert 'id="import-confirm-form"' in html
    assert url("registryimport_template", "xlsx") in html

    confirmed = client.post(url("registryimport_confirm", registry_import.pk))
    assert confirmed.status_code == 302
    registry_import.refresh_from_db()
    assert (
        registry_import.state,
        registry_import.created_count,
        registry_import.updated_count,
    ) == (
        ImportState.DONE,
        2,
        0,
    )
    assert sorted(Registrant.objects.values_list("name", "is_group")) == [
        ("MWANGI, GRACE", False),
        ("Mwangi household", True),
    ]
    done = client.get(url("registryimport_change", registry_import.pk))
    assert 'id="import-confirm-form"' not in done.content.decode()
    messages_text = [str(m) for m in done.context["messages"]]
    assert messages_text == ["Import finished: 2 created, 0 updated, 1 invalid rows."]


def test_import_all_or_nothing_with_errors_is_refused_on_confirm(client, registrar, national_id):
    from g2p_registry_base.models import ImportState, RegistryImport

    client.force_login(registrar)
    _upload(client, "all_or_nothing")
    registry_import = RegistryImport.objects.get()

    response = client.post(url("registryimport_confirm", registry_import.pk), follow=True)

    assert response.status_code == 200
    messages_text = [str(m) for m in response.context["messages"]]
    assert messages_text == [
        "households.csv uploaded: check the preview, then import it.",
        "1 row is invalid and the mode is all or nothing: fix the file and upload it again, "
        "or choose to skip invalid rows.",
    ]
    registry_import.refresh_from_db()
    assert registry_import.state == ImportState.VALIDATED
    assert Registrant.objects.count() == 0


def test_import_rejects_other_file_types_and_viewers(client, registrar, viewer):
    from g2p_registry_base.models import RegistryImport

    client.force_login(registrar)
    response = _upload(client, "all_or_nothing", name="households.txt")
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "file": ["Upload an .xlsx or .csv file (got households.txt)."]
    }
    assert RegistryImport.objects.count() == 0

    client.force_login(viewer)
    assert client.get(url("registryimport_add")).status_code == 403
    assert _upload(client, "all_or_nothing").status_code == 403
    assert RegistryImport.objects.count() == 0


def test_import_template_download(client, registrar, national_id):
    client.force_login(registrar)
    csv_response = client.get(url("registryimport_template", "csv"))
    assert csv_response.status_code == 200
    assert (
        csv_response["Content-Disposition"] == 'attachment; filename="registry-import-template.csv"'
    )
    assert csv_response.content.decode().splitlines()[0].startswith("type,id:National ID,group_ref")
    xlsx = client.get(url("registryimport_template", "xlsx"))
    assert xlsx.status_code == 200
    assert xlsx.content[:2] == b"PK"


def test_autocomplete_offers_individuals_for_members_and_groups_for_groups(client, registrar):
    ann = person("Ann", "Otieno")
    factories.GroupFactory(name="Otieno household")
    client.force_login(registrar)
    base = {"app_label": "g2p_registry_base", "model_name": "groupmembership", "term": "otieno"}

    members = client.get("/admin/autocomplete/", {**base, "field_name": "individual"})
    groups = client.get("/admin/autocomplete/", {**base, "field_name": "group"})

    assert members.status_code == 200
    assert members.json()["results"] == [{"id": str(ann.pk), "text": "OTIENO, ANN"}]
    assert [r["text"] for r in groups.json()["results"]] == ["Otieno household"]


def test_registrant_urls_route_to_the_right_admin(client, admin_user):
    ann = person("Ann", "Otieno")
    group = factories.GroupFactory(name="Otieno household")
    client.force_login(admin_user)
    assert client.get(url("registrant_change", ann.pk))["Location"] == url(
        "individual_change", ann.pk
    )
    assert client.get(url("registrant_change", group.pk))["Location"] == url(
        "group_change", group.pk
    )
    assert client.get(url("registrant_changelist"))["Location"] == url("individual_changelist")
