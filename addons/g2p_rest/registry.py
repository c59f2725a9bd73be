"""``/api/v1/registry``: individuals and groups, with upstream OpenG2P's paths and field names.

Reads are selectors over prefetched querysets (a fixed number of queries per page, whatever its
size). Writes go through :mod:`g2p_registry_base.services`, so the registry's validation and
role checks apply; each request is one transaction, so a refused request writes nothing.

Departures from upstream: searches are paginated (``limit``/``offset`` and the total
``count``) and an empty result is an empty page, not an error; unknown records are 404;
unknown genders are refused instead of silently dropped; bad input is 422 naming the field.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, JsonResponse
from django.utils import timezone
from ninja import Query, Router

from addons.g2p_rest import schemas
from addons.g2p_rest.errors import NOT_FOUND, InputError, fields_at
from addons.g2p_rest.pages import LIMIT, MAX_ID, OFFSET, PK, page
from g2p_registry_base.models import (
    Bank,
    BankAccount,
    GenderType,
    GroupKind,
    GroupMembership,
    IdType,
    MembershipKind,
    PhoneNumber,
    Registrant,
    RegistrantId,
    normalize_phone,
)
from g2p_registry_base.services import (
    Actor,
    bank_account_save,
    membership_save,
    phone_save,
    reg_id_save,
    registrant_save,
    require_perm,
)

router = Router(tags=["registry"])

ERRORS: dict[int, Any] = {
    400: schemas.ErrorOut,
    401: schemas.ErrorOut,
    403: schemas.ErrorOut,
    404: schemas.ErrorOut,
    422: schemas.ErrorOut,
}
APP = "g2p_registry_base"

ID_Q = Query(None, alias="_id", ge=1, le=MAX_ID)
NAME_Q = Query(None, description="Part of the name, any case.")
ID_TYPE_Q = Query(None, description="Name of an ID type.")
ID_VALUE_Q = Query(None, description="Exact ID value.")
PHONE_Q = Query(None, description="A phone number, in any format.")
MEMBERS_Q = Query(False, description="Include the members.")
IS_GROUP_Q = Query(None, description="Only groups (true) or individuals (false).")

# ---------------------------------------------------------------------------------------------
# Reads
# ---------------------------------------------------------------------------------------------


def _registrant_prefetch(prefix: str = "") -> list[Prefetch]:
    return [
        Prefetch(
            f"{prefix}reg_ids",
            queryset=RegistrantId.objects.select_related("id_type").order_by("pk"),
        ),
        Prefetch(f"{prefix}phone_numbers", queryset=PhoneNumber.objects.order_by("pk")),
        Prefetch(
            f"{prefix}bank_accounts",
            queryset=BankAccount.objects.select_related("bank").order_by("pk"),
        ),
    ]


def individuals_qs() -> QuerySet[Registrant]:
    return Registrant.objects.individuals().prefetch_related(*_registrant_prefetch()).order_by("pk")


def groups_qs(*, members: bool) -> QuerySet[Registrant]:
    qs = (
        Registrant.objects.groups().select_related("kind").prefetch_related(*_registrant_prefetch())
    )
    if members:
        memberships = (
            GroupMembership.objects.select_related("individual")
            .prefetch_related(
                Prefetch("kinds", queryset=MembershipKind.objects.order_by("name")),
                *_registrant_prefetch("individual__"),
            )
            .order_by("pk")
        )
        qs = qs.prefetch_related(Prefetch("group_memberships", queryset=memberships))
    return qs.order_by("pk")


def _blank_none(value: str) -> str | None:
    return value or None


def registrant_out(r: Registrant) -> dict[str, Any]:
    return {
        "id": r.pk,
        "name": r.name,
        "ids": [
            {
                "id": rid.pk,
                "id_type": rid.id_type.name,
                "value": rid.value,
                "expiry_date": rid.expiry_date,
                "status": _blank_none(rid.status),
                "description": _blank_none(rid.description),
            }
            for rid in r.reg_ids.all()
        ],
        "is_group": r.is_group,
        "registration_date": r.registration_date,
        "phone_numbers": [
            {
                "id": p.pk,
                "phone_no": p.phone_no,
                "phone_sanitized": p.phone_sanitized,
                "date_collected": p.date_collected,
            }
            for p in r.phone_numbers.all()
        ],
        "bank_ids": [
            {
                "id": a.pk,
                "bank_name": a.bank.name,
                "acc_number": a.acc_number,
                "acc_holder_name": _blank_none(a.acc_holder_name),
            }
            for a in r.bank_accounts.all()
        ],
        "email": _blank_none(r.email),
        "address": _blank_none(r.address),
        "active": r.disabled is None,
        "create_date": r.create_date,
        "write_date": r.write_date,
    }


def individual_out(r: Registrant) -> dict[str, Any]:
    age = r.age
    return registrant_out(r) | {
        "given_name": _blank_none(r.given_name),
        "addl_name": _blank_none(r.addl_name),
        "family_name": _blank_none(r.family_name),
        "gender": r.gender_id,
        "birthdate": r.birthdate,
        "age": None if age is None else str(age),
        "birth_place": _blank_none(r.birth_place),
    }


def group_out(g: Registrant, *, members: bool = True) -> dict[str, Any]:
    return registrant_out(g) | {
        "kind": g.kind.name if g.kind_id else None,
        "is_partial_group": g.is_partial_group,
        "members": [
            {
                "id": m.pk,
                "individual": individual_out(m.individual),
                "kind": [{"name": k.name} for k in m.kinds.all()],
                "start_date": m.start_date,
                "ended_date": m.ended_date,
                "status": str(m.status),
            }
            for m in g.group_memberships.all()
        ]
        if members
        else None,
    }


def _filter(
    qs: QuerySet[Registrant],
    *,
    pk: int | None,
    name: str | None,
    id_type: str | None,
    id_value: str | None,
    phone: str | None,
) -> QuerySet[Registrant]:
    if pk is not None:
        qs = qs.filter(pk=pk)
    if name:
        qs = qs.filter(name__icontains=name)
    if id_type or id_value:
        ids = RegistrantId.objects.filter(registrant=OuterRef("pk"))
        if id_type:
            ids = ids.filter(id_type__name__iexact=id_type)
        if id_value:
            ids = ids.filter(value=id_value)
        qs = qs.filter(Exists(ids))
    if phone:
        try:
            sanitized = normalize_phone(phone)
        except ValidationError as exc:
            raise InputError.at(["query", "phone"], exc.messages[0]) from exc
        qs = qs.filter(
            Exists(PhoneNumber.objects.filter(registrant=OuterRef("pk"), phone_sanitized=sanitized))
        )
    return qs


def _get(qs: QuerySet[Registrant], pk: int) -> Registrant:
    found = qs.filter(pk=pk).first()
    if found is None:
        raise Http404(NOT_FOUND)
    return found


@router.get(
    "/individual/{registrant_id}",
    response={200: schemas.IndividualOut, **ERRORS},
    summary="Get an individual",
)
def individual_get(request: HttpRequest, registrant_id: int = PK) -> Any:
    require_perm(request.user, f"{APP}.view_individual")
    return individual_out(_get(individuals_qs(), registrant_id))


@router.get(
    "/individual",
    response={200: schemas.IndividualPage, **ERRORS},
    summary="Search individuals",
)
def individual_search(
    request: HttpRequest,
    pk: int | None = ID_Q,
    name: schemas.Text | None = NAME_Q,
    id_type: schemas.Text | None = ID_TYPE_Q,
    id_value: schemas.Text | None = ID_VALUE_Q,
    phone: schemas.Text | None = PHONE_Q,
    limit: int = LIMIT,
    offset: int = OFFSET,
) -> Any:
    require_perm(request.user, f"{APP}.view_individual")
    qs = _filter(
        individuals_qs(), pk=pk, name=name, id_type=id_type, id_value=id_value, phone=phone
    )
    return page(qs, limit=limit, offset=offset, render=individual_out)


@router.get(
    "/group/{registrant_id}",
    response={200: schemas.GroupOut, **ERRORS},
    summary="Get a group with its members",
)
def group_get(request: HttpRequest, registrant_id: int = PK) -> Any:
    require_perm(request.user, f"{APP}.view_group")
    return group_out(_get(groups_qs(members=True), registrant_id))


@router.get(
    "/group",
    response={200: schemas.GroupPage, **ERRORS},
    summary="Search groups",
)
def group_search(
    request: HttpRequest,
    pk: int | None = ID_Q,
    name: schemas.Text | None = NAME_Q,
    id_type: schemas.Text | None = ID_TYPE_Q,
    id_value: schemas.Text | None = ID_VALUE_Q,
    phone: schemas.Text | None = PHONE_Q,
    include_members_full: bool = MEMBERS_Q,
    limit: int = LIMIT,
    offset: int = OFFSET,
) -> Any:
    require_perm(request.user, f"{APP}.view_group")
    qs = _filter(
        groups_qs(members=include_members_full),
        pk=pk,
        name=name,
        id_type=id_type,
        id_value=id_value,
        phone=phone,
    )
    return page(
        qs,
        limit=limit,
        offset=offset,
        render=lambda g: group_out(g, members=include_members_full),
    )


@router.get(
    "/registrant",
    response={200: schemas.RegistrantPage, **ERRORS},
    summary="Search individuals and groups together",
)
def registrant_search(
    request: HttpRequest,
    pk: int | None = ID_Q,
    name: schemas.Text | None = NAME_Q,
    id_type: schemas.Text | None = ID_TYPE_Q,
    id_value: schemas.Text | None = ID_VALUE_Q,
    phone: schemas.Text | None = PHONE_Q,
    is_group: bool | None = IS_GROUP_Q,
    limit: int = LIMIT,
    offset: int = OFFSET,
) -> Any:
    require_perm(request.user, f"{APP}.view_registrant")
    qs = Registrant.objects.registrants().prefetch_related(*_registrant_prefetch()).order_by("pk")
    if is_group is not None:
        qs = qs.filter(is_group=is_group)
    qs = _filter(qs, pk=pk, name=name, id_type=id_type, id_value=id_value, phone=phone)
    return page(qs, limit=limit, offset=offset, render=registrant_out)


# ---------------------------------------------------------------------------------------------
# Writes
# ---------------------------------------------------------------------------------------------

_TEXT_FIELDS = ("given_name", "addl_name", "family_name", "birth_place", "email", "address")


def _gender_value(code: str, loc: list[str | int]) -> str:
    gender = (
        GenderType.objects.filter(active=True, code__iexact=code).first()
        or GenderType.objects.filter(active=True, value__iexact=code).first()
    )
    if gender is None:
        raise InputError.at([*loc, "gender"], f"Invalid gender: {code}.")
    return gender.value


def _apply_fields(registrant: Registrant, data: dict[str, Any], loc: list[str | int]) -> None:
    for field in _TEXT_FIELDS:
        if field in data:
            setattr(registrant, field, (data[field] or "").strip())
    for field in ("birthdate", "registration_date"):
        if field in data:
            setattr(registrant, field, data[field])
    if "gender" in data:
        registrant.gender_id = _gender_value(data["gender"], loc) if data["gender"] else None


def _save_ids_and_phones(
    registrant: Registrant, data: dict[str, Any], loc: list[str | int], actor: Actor
) -> None:
    existing = {rid.id_type_id: rid for rid in registrant.reg_ids.all()} if registrant.pk else {}
    for i, item in enumerate(data.get("ids") or []):
        id_type = IdType.objects.filter(name__iexact=item["id_type"].strip()).first()
        if id_type is None:
            raise InputError.at(
                [*loc, "ids", i, "id_type"],
                f"ID type - {item['id_type']} is not present in the database.",
            )
        reg_id = existing.get(id_type.pk) or RegistrantId(registrant=registrant, id_type=id_type)
        reg_id.value = item["value"]
        reg_id.expiry_date = item.get("expiry_date")
        reg_id.status = item.get("status") or ""
        reg_id.description = item.get("description") or ""
        with fields_at(*loc, "ids", i):
            reg_id_save(reg_id=reg_id, actor=actor)
        existing[id_type.pk] = reg_id
    for j, item in enumerate(data.get("phone_numbers") or []):
        phone = PhoneNumber(registrant=registrant, phone_no=item["phone_no"])
        if item.get("date_collected") is not None:
            phone.date_collected = item["date_collected"]
        with fields_at(*loc, "phone_numbers", j):
            phone.derive_fields()
            if registrant.phone_numbers.filter(phone_sanitized=phone.phone_sanitized).exists():
                continue  # already recorded: sending a known number again changes nothing
            phone_save(phone=phone, actor=actor)
    for k, item in enumerate(data.get("bank_ids") or []):
        name = item["bank_name"].strip()
        bank = Bank.objects.filter(name__iexact=name).first() or (
            Bank.objects.filter(bic__iexact=name).first() if name else None
        )
        if bank is None:
            raise InputError.at(
                [*loc, "bank_ids", k, "bank_name"], f"Bank - {name} is not present in the database."
            )
        account = BankAccount(
            registrant=registrant,
            bank=bank,
            acc_number=item["acc_number"],
            acc_holder_name=(item.get("acc_holder_name") or "").strip(),
        )
        with fields_at(*loc, "bank_ids", k):
            account.clean()
            if registrant.bank_accounts.filter(bank=bank, acc_number=account.acc_number).exists():
                continue  # already recorded
            bank_account_save(account=account, actor=actor)


def _save_individual(
    registrant: Registrant, data: dict[str, Any], loc: list[str | int], actor: Actor
) -> Registrant:
    _apply_fields(registrant, data, loc)
    with fields_at(*loc):
        registrant_save(registrant=registrant, actor=actor)
    _save_ids_and_phones(registrant, data, loc, actor)
    return registrant


def _new_individual(data: dict[str, Any]) -> tuple[Registrant, dict[str, Any]]:
    registrant = Registrant(is_group=False, is_registrant=True)
    if data.get("registration_date") is None:
        data = {k: v for k, v in data.items() if k != "registration_date"}  # keep the default
    return registrant, data


def _existing_member(group: Registrant, pk: int, loc: list[str | int]) -> Registrant:
    """An existing, enabled individual not yet a current member of ``group``."""
    individual = Registrant.objects.individuals().filter(pk=pk).first()
    if individual is None:
        raise InputError.at(loc, f"Individual {pk} is not present in the registry.")
    if individual.disabled is not None:
        raise InputError.at(loc, f"Individual {pk} is disabled.")
    if group.pk and GroupMembership.objects.filter(group=group, individual=individual).exists():
        raise InputError.at(loc, f"Individual {pk} is already a member of this group.")
    return individual


def _add_members(group: Registrant, members: list[dict[str, Any]], actor: Actor) -> None:
    for j, member in enumerate(members):
        loc: list[str | int] = ["body", "members", j]
        kinds = []
        for k, kind in enumerate(member.get("kind") or []):
            found = MembershipKind.objects.filter(name__iexact=kind["name"].strip()).first()
            if found is None:
                raise InputError.at([*loc, "kind", k, "name"], "Member's kind not found.")
            kinds.append(found)
        if member.get("id") is not None:
            individual = _existing_member(group, member["id"], [*loc, "id"])
        else:
            for part in ("given_name", "family_name"):
                if not (member.get(part) or "").strip():
                    raise InputError.at([*loc, part], "Field required")
            individual, fields = _new_individual(member)
            _save_individual(individual, fields, loc, actor)
        with fields_at(*loc):
            membership_save(
                membership=GroupMembership(group=group, individual=individual),
                kinds=kinds,
                actor=actor,
            )


def _apply_group_fields(group: Registrant, data: dict[str, Any]) -> None:
    if data.get("name") is not None:
        group.name = data["name"].strip()
    for field in ("email", "address"):
        if field in data:
            setattr(group, field, (data[field] or "").strip())
    if "registration_date" in data:
        group.registration_date = data["registration_date"]
    if data.get("is_partial_group") is not None:
        group.is_partial_group = data["is_partial_group"]
    if "kind" in data:
        if data["kind"]:
            kind = GroupKind.objects.filter(name__iexact=data["kind"].strip()).first()
            if kind is None:
                raise InputError.at(["body", "kind"], "Group type Not Found")
            group.kind = kind
        else:
            group.kind = None


def _locked(qs: QuerySet[Registrant], pk: int) -> Registrant:
    found = qs.select_for_update(of=("self",)).filter(pk=pk).first()
    if found is None:
        raise Http404(NOT_FOUND)
    return found


@router.post(
    "/individual",
    response={200: schemas.IndividualOut, **ERRORS},
    summary="Create an individual with IDs and phone numbers",
)
def individual_create(request: HttpRequest, payload: schemas.IndividualIn) -> Any:
    actor = request.user
    require_perm(actor, f"{APP}.add_individual")
    with transaction.atomic():
        registrant, data = _new_individual(payload.model_dump())
        _save_individual(registrant, data, ["body"], actor)
    return individual_out(_get(individuals_qs(), registrant.pk))


@router.put(
    "/individual/{registrant_id}",
    response={200: schemas.IndividualOut, **ERRORS},
    summary="Update an individual",
)
def individual_update(
    request: HttpRequest, payload: schemas.IndividualUpdate, registrant_id: int = PK
) -> Any:
    actor = request.user
    require_perm(actor, f"{APP}.change_individual")
    data = payload.model_dump(exclude_unset=True)
    with transaction.atomic():
        registrant = _locked(Registrant.objects.individuals(), registrant_id)
        for field in ("given_name", "family_name"):
            if field in data and not data[field]:
                del data[field]  # a name part sent empty keeps the stored one, as upstream
        _save_individual(registrant, data, ["body"], actor)
    return individual_out(_get(individuals_qs(), registrant_id))


@router.post(
    "/group",
    response={200: schemas.GroupOut, **ERRORS},
    summary="Create a group and its members",
)
def group_create(request: HttpRequest, payload: schemas.GroupIn) -> Any:
    actor = request.user
    require_perm(actor, f"{APP}.add_group")
    data = payload.model_dump()
    with transaction.atomic():
        group = Registrant(is_group=True, is_registrant=True)
        if data.get("registration_date") is None:
            data.pop("registration_date")
        _apply_group_fields(group, data)
        with fields_at("body"):
            registrant_save(registrant=group, actor=actor)
        _save_ids_and_phones(group, data, ["body"], actor)
        _add_members(group, data["members"], actor)
    return group_out(_get(groups_qs(members=True), group.pk))


@router.put(
    "/group/{registrant_id}",
    response={200: schemas.GroupOut, **ERRORS},
    summary="Update a group; members sent are added",
)
def group_update(
    request: HttpRequest, payload: schemas.GroupUpdate, registrant_id: int = PK
) -> Any:
    actor = request.user
    require_perm(actor, f"{APP}.change_group")
    data = payload.model_dump(exclude_unset=True)
    with transaction.atomic():
        group = _locked(Registrant.objects.groups(), registrant_id)
        _apply_group_fields(group, data)
        with fields_at("body"):
            registrant_save(registrant=group, actor=actor)
        _save_ids_and_phones(group, data, ["body"], actor)
        _add_members(group, data.get("members") or [], actor)
    return group_out(_get(groups_qs(members=True), registrant_id))


# ---------------------------------------------------------------------------------------------
# Upstream's ID-keyed endpoints
# ---------------------------------------------------------------------------------------------

IDS_MAX_LIMIT = 100_000
INCLUDE_ID_TYPE_Q = Query(..., description="ID type the individuals must have.")
EXCLUDE_ID_TYPE_Q = Query(None, description="Leave out individuals having an ID of this type.")
IDS_LIMIT_Q = Query(
    10_000, ge=1, le=IDS_MAX_LIMIT, description=f"At most this many (≤ {IDS_MAX_LIMIT})."
)
UPDATE_ID_TYPE_Q = Query(..., description="ID type of every updateId.")


def _id_type(name: str, loc: list[str | int]) -> IdType:
    id_type = IdType.objects.filter(name__iexact=name.strip()).first()
    if id_type is None:
        raise InputError.at(loc, f"ID type - {name} is not present in the database.")
    return id_type


@router.get(
    "/get_individual_ids",
    response={200: list[str], **ERRORS},
    summary="ID values of enabled individuals with a valid ID of one type",
)
def individual_ids(
    request: HttpRequest,
    include_id_type: schemas.Name = INCLUDE_ID_TYPE_Q,
    exclude_id_type: schemas.Name | None = EXCLUDE_ID_TYPE_Q,
    limit: int = IDS_LIMIT_Q,
    offset: int = OFFSET,
) -> Any:
    """As upstream, but in pages (ordered by value): ``limit``/``offset``, the total in the
    ``X-Total-Count`` header. An ID marked invalid or expired does not count."""
    require_perm(request.user, f"{APP}.view_individual")
    included = _id_type(include_id_type, ["query", "include_id_type"])
    qs = RegistrantId.objects.filter(
        id_type=included,
        registrant__is_group=False,
        registrant__disabled__isnull=True,
    ).exclude(status="invalid")
    qs = qs.filter(Q(expiry_date__isnull=True) | Q(expiry_date__gte=timezone.localdate()))
    if exclude_id_type:
        excluded = _id_type(exclude_id_type, ["query", "exclude_id_type"])
        qs = qs.exclude(
            Exists(RegistrantId.objects.filter(registrant=OuterRef("registrant"), id_type=excluded))
        )
    values = qs.order_by("value").values_list("value", flat=True)
    total = values.count()
    response = JsonResponse(list(values[offset : offset + limit]), safe=False)
    response["X-Total-Count"] = str(total)
    return response


@router.put(
    "/update_individual",
    response={200: list[schemas.IndividualOut], **ERRORS},
    summary="Update individuals found by an ID value",
)
def individuals_update_by_id(
    request: HttpRequest,
    payload: list[schemas.UpdateIndividualIn],
    id_type: schemas.Name = UPDATE_ID_TYPE_Q,
) -> Any:
    """Each item finds the individual whose ID of type ``id_type`` has the value ``updateId``
    and changes only the keys sent; IDs of a type it has are updated, others added. All or
    nothing: an unknown ``updateId`` or a bad value is a 422 naming the item and nothing of the
    request is written."""
    actor = request.user
    require_perm(actor, f"{APP}.change_individual")
    kind = _id_type(id_type, ["query", "id_type"])
    updated: list[int] = []
    with transaction.atomic():
        for i, item in enumerate(payload):
            data = item.model_dump(exclude_unset=True)
            value = data.pop("updateId").strip()
            loc: list[str | int] = ["body", i]
            registrant = (
                Registrant.objects.individuals()
                .select_for_update(of=("self",))
                .filter(reg_ids__id_type=kind, reg_ids__value=value)
                .first()
            )
            if registrant is None:
                raise InputError.at(
                    [*loc, "updateId"], f"No individual has the {kind.name} {value}."
                )
            for field in ("given_name", "family_name"):
                if field in data and not data[field]:
                    del data[field]
            _save_individual(registrant, data, loc, actor)
            updated.append(registrant.pk)
    found = {r.pk: r for r in individuals_qs().filter(pk__in=updated)}
    return [individual_out(found[pk]) for pk in updated]
