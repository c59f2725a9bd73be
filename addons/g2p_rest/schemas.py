"""Request and response shapes of the REST API, with upstream's field names.

Responses carry real values (upstream's output validators turned ``email``, ``address``,
``gender``, ``birthdate``, … into ``null`` on every record). Request dates are ISO
``YYYY-MM-DD``; unknown keys are ignored, as upstream.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import AfterValidator, StringConstraints


def _storable(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and lone surrogates cannot be encoded: refuse them here
    # so they are a 422 naming the field rather than a database error.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


Text = Annotated[str, AfterValidator(_storable)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=512), AfterValidator(_storable)]

# ---------------------------------------------------------------------------------------------
# Errors and pages
# ---------------------------------------------------------------------------------------------


class ErrorOut(Schema):
    """Every error: a message, or for bad input a list of ``{loc, msg, type}`` naming fields."""

    detail: str | list[dict[str, Any]]


class Page(Schema):
    count: int = Field(description="Number of records matching the query (all pages).")
    limit: int
    offset: int


# ---------------------------------------------------------------------------------------------
# Registry: output
# ---------------------------------------------------------------------------------------------


class RegistrantIdOut(Schema):
    id: int
    id_type: str
    value: str
    expiry_date: datetime.date | None
    status: str | None
    description: str | None


class PhoneNumberOut(Schema):
    id: int
    phone_no: str
    phone_sanitized: str
    date_collected: datetime.date | None


class KindOut(Schema):
    name: str


class BankAccountOut(Schema):
    id: int
    bank_name: str
    acc_number: str
    acc_holder_name: str | None


class RegistrantOut(Schema):
    id: int
    name: str
    ids: list[RegistrantIdOut]
    is_group: bool
    registration_date: datetime.date | None
    phone_numbers: list[PhoneNumberOut]
    bank_ids: list[BankAccountOut] = Field(description="Bank accounts.")
    email: str | None
    address: str | None
    active: bool = Field(description="False once the registrant is disabled.")
    create_date: datetime.datetime
    write_date: datetime.datetime


class IndividualOut(RegistrantOut):
    given_name: str | None
    addl_name: str | None
    family_name: str | None
    gender: str | None
    birthdate: datetime.date | None
    age: str | None = Field(description="Whole years, as text like upstream.")
    birth_place: str | None


class MemberOut(Schema):
    id: int = Field(description="The membership's id.")
    individual: IndividualOut
    kind: list[KindOut]
    start_date: datetime.datetime | None
    ended_date: datetime.datetime | None
    status: str


class GroupOut(RegistrantOut):
    kind: str | None = Field(description="Group kind name.")
    is_partial_group: bool
    members: list[MemberOut] | None = Field(
        description="Memberships; null in searches unless include_members_full is set."
    )


class IndividualPage(Page):
    items: list[IndividualOut]


class GroupPage(Page):
    items: list[GroupOut]


class RegistrantPage(Page):
    items: list[RegistrantOut]


# ---------------------------------------------------------------------------------------------
# Registry: input
# ---------------------------------------------------------------------------------------------


class RegistrantIdIn(Schema):
    id_type: Name = Field(description="Name of an ID type.")
    value: Name
    expiry_date: datetime.date | None = None
    status: Text | None = None
    description: Text | None = None


class PhoneNumberIn(Schema):
    phone_no: Text
    date_collected: datetime.date | None = None


class KindIn(Schema):
    name: Text


class BankAccountIn(Schema):
    bank_name: Name = Field(description="Name (or BIC) of a configured bank.")
    acc_number: Name
    acc_holder_name: Text | None = None


class RegistrantIn(Schema):
    ids: list[RegistrantIdIn] = []
    registration_date: datetime.date | None = None
    phone_numbers: list[PhoneNumberIn] = []
    bank_ids: list[BankAccountIn] = Field(
        [], description="Bank accounts; one already recorded is left as it is."
    )
    email: Text | None = None
    address: Text | None = None


class IndividualFields(RegistrantIn):
    name: Text | None = Field(None, description="Ignored: derived from the name parts.")
    given_name: Text | None = None
    addl_name: Text | None = None
    family_name: Text | None = None
    gender: Text | None = Field(None, description="Code or value of a gender type.")
    birthdate: datetime.date | None = None
    birth_place: Text | None = None


class IndividualIn(IndividualFields):
    given_name: Text
    family_name: Text


class IndividualUpdate(IndividualFields):
    """Only the keys sent are changed. IDs of a type the registrant has are updated, others
    added; phone numbers it does not have yet are added."""


class MemberIn(IndividualFields):
    id: int | None = Field(
        None,
        ge=1,
        le=2**63 - 1,
        description="An existing individual to add; without it a new individual is created "
        "from the other fields (given_name and family_name then required).",
    )
    kind: list[KindIn] = Field([], description="Membership kinds by name, e.g. Head.")


class UpdateIndividualIn(IndividualFields):
    updateId: Name = Field(  # noqa: N815 - upstream's field name
        description="Value of the ID (of the type given as id_type) identifying the individual."
    )


class GroupFields(RegistrantIn):
    kind: Text | None = Field(None, description="Group kind name, e.g. Household.")
    is_partial_group: bool | None = None
    members: list[MemberIn] = Field(
        [], description="Individuals to add: existing ones by id, or new ones."
    )


class GroupIn(GroupFields):
    name: Name


class GroupUpdate(GroupFields):
    """Only the keys sent are changed; ``members`` are added to the current ones."""

    name: Name | None = None


# ---------------------------------------------------------------------------------------------
# Programs
# ---------------------------------------------------------------------------------------------


class ProgramOut(Schema):
    id: int
    name: str
    description: str
    target_type: str
    state: str
    currency: str
    active: bool
    date_ended: datetime.date | None
    create_date: datetime.datetime
    write_date: datetime.datetime


class ProgramPage(Page):
    items: list[ProgramOut]


class ProgramMembershipOut(Schema):
    id: int
    program_id: int
    program: str
    state: str
    enrollment_date: datetime.datetime | None
    exit_date: datetime.date | None


class ProgramMembershipPage(Page):
    items: list[ProgramMembershipOut]


class EntitlementOut(Schema):
    id: int
    code: str
    program_id: int
    cycle_id: int
    cycle: str
    is_cash_entitlement: bool
    currency: str
    initial_amount: str = Field(description='Decimal amount as text, e.g. "100.00".')
    transfer_fee: str
    valid_from: datetime.date | None
    valid_until: datetime.date | None
    state: str
    date_approved: datetime.date | None


class EntitlementPage(Page):
    items: list[EntitlementOut]


class PaymentOut(Schema):
    id: int
    name: str
    entitlement_id: int
    cycle_id: int
    state: str
    status: str | None
    currency: str
    amount_issued: str
    amount_paid: str | None
    payment_fee: str
    issuance_date: datetime.datetime
    payment_datetime: datetime.datetime | None


class PaymentPage(Page):
    items: list[PaymentOut]
