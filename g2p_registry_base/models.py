"""The beneficiary registry: registrants (individuals and groups), their IDs, phones, bank
accounts, memberships, relationships and tags, and the configuration lists they draw from.

Faithful to upstream ``g2p_registry_base`` / ``_individual`` / ``_group`` / ``_membership``, with
its quirks fixed: ID patterns must match in full, birth and collection dates cannot be in the
future on the server either, a unique membership kind ("Head") is unique per group on every path
(a database trigger backs the form checks), member counts ignore ended memberships, disabled
people and duplicate kinds, and age is computed by the database at query time.

Every model validates itself on ``save()`` (``full_clean``) so that scripts, the admin and the
APIs get the same field-named errors; set-based imports validate rows in bulk before writing
(see :mod:`g2p_registry_base.imports`). Constraints and triggers in the database are the last
line of defence.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import pghistory
import phonenumbers
from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower, Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from g2p_registry_base.choices import MembershipStatus, PartnerType, RegIdStatus
from g2p_registry_base.querysets import GroupMembershipQuerySet, RegistrantQuerySet


class ValidatedModel(models.Model):
    """Base model that runs ``full_clean()`` before every save.

    Field, ``clean()`` and constraint checks raise :class:`ValidationError` naming the field, on
    every write path that goes through the ORM's ``save()``.
    """

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.full_clean()
        super().save(*args, **kwargs)

    def derive_fields(self) -> None:
        """Compute derived columns (full name, E.164 phone) before validation."""

    def full_clean(self, *args: Any, **kwargs: Any) -> None:
        self.derive_fields()
        super().full_clean(*args, **kwargs)


def audit_trackers() -> tuple[pghistory.RowEvent, ...]:
    """Audit every insert, update and delete (triggers, so bulk SQL is recorded too)."""
    return (pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())


def history_lookup_indexes(**columns: str) -> dict[str, Any]:
    """``meta`` of an event model indexing its copies of the foreign keys the registrant History
    page finds events by (``index name=field``); other copied keys stay unindexed
    (``PGHISTORY_FOREIGN_KEY_FIELD``)."""
    return {"indexes": [models.Index(fields=[f], name=name) for name, f in columns.items()]}


def _today() -> datetime.date:
    return timezone.localdate()


def _not_blank(value: str, message: Any, field: str) -> None:
    if not (value or "").strip():
        raise ValidationError({field: message})


# --------------------------------------------------------------------------------------------
# Configuration lists
# --------------------------------------------------------------------------------------------


@pghistory.track(*audit_trackers())
class Company(ValidatedModel):
    """An organisation operating the registry (upstream ``res.company``)."""

    name = models.CharField(_("name"), max_length=255)
    country_code = models.CharField(
        _("country"),
        max_length=2,
        blank=True,
        help_text=_("ISO 3166-1 alpha-2 code; the default region for phone numbers."),
    )
    currency = models.CharField(_("currency"), max_length=3, default="USD")

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="company_name_ci_unique",
                violation_error_message=_("Company already exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


def default_company_id() -> int | None:
    """The first company (created by the initial data migration)."""
    return Company.objects.order_by("pk").values_list("pk", flat=True).first()


@pghistory.track(*audit_trackers())
class GenderType(ValidatedModel):
    """A gender option (upstream ``gender.type``): ``code`` is shown, ``value`` is stored."""

    code = models.CharField(_("code"), max_length=64)
    value = models.CharField(_("value"), max_length=64, unique=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("gender type")
        constraints = [
            models.UniqueConstraint(
                Lower("code"),
                name="gendertype_code_ci_unique",
                violation_error_message=_("Gender type should be unique"),
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        _not_blank(self.code, _("Gender type should not be empty."), "code")
        _not_blank(self.value, _("Gender value should not be empty."), "value")


@pghistory.track(*audit_trackers())
class IdType(ValidatedModel):
    """A kind of identity document (upstream ``g2p.id.type``).

    ``id_validation`` is a regular expression the whole value must match (upstream matched only
    at the start, so ``[0-9]+`` accepted ``"1abc"``).
    """

    name = models.CharField(_("name"), max_length=128)
    id_validation = models.CharField(
        _("ID type validation"),
        max_length=512,
        blank=True,
        help_text=_("Regular expression the whole ID value must match, e.g. [0-9]{10}."),
    )
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("ID type")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="idtype_name_ci_unique",
                violation_error_message=_("Id type already exists"),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        _not_blank(self.name, _("Id type should not be empty."), "name")
        if self.id_validation:
            try:
                re.compile(self.id_validation)
            except re.error as exc:
                raise ValidationError(
                    {"id_validation": _("Not a valid regular expression: %(e)s") % {"e": exc}}
                ) from exc

    def value_error(self, value: str) -> str | None:
        """The error message for ``value``, or ``None`` when it is acceptable."""
        if self.id_validation and not re.fullmatch(self.id_validation, value):
            return str(
                _("The provided %(type)s ID '%(value)s' is invalid.")
                % {"type": self.name, "value": value}
            )
        return None


@pghistory.track(*audit_trackers())
class RegistrantTag(ValidatedModel):
    """A free label on registrants (upstream ``g2p.registrant.tags``)."""

    name = models.CharField(_("tag"), max_length=128)
    color = models.PositiveSmallIntegerField(_("colour"), default=1)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("registrant tag")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="registranttag_name_ci_unique",
                violation_error_message=_("Tag already exists"),
            ),
            models.CheckConstraint(
                condition=Q(color__gte=0, color__lte=11), name="registranttag_color_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        _not_blank(self.name, _("Tag name should not be empty."), "name")


@pghistory.track(*audit_trackers())
class GroupKind(ValidatedModel):
    """The kind of a group, e.g. Household or Family (upstream ``g2p.group.kind``)."""

    name = models.CharField(_("kind"), max_length=128)

    class Meta:
        ordering = ["name"]
        verbose_name = _("group kind")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="groupkind_name_ci_unique",
                violation_error_message=_("kind already exists"),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        _not_blank(self.name, _("kind should not be empty."), "name")


@pghistory.track(*audit_trackers())
class MembershipKind(ValidatedModel):
    """A member's role in a group (upstream ``g2p.group.membership.kind``).

    ``is_unique`` kinds (the seeded "Head") may be held by one current membership per group.
    ``protected`` kinds are seeded defaults: a database trigger refuses to edit or delete them.
    """

    name = models.CharField(_("kind"), max_length=128)
    is_unique = models.BooleanField(_("unique"), default=False)
    protected = models.BooleanField(_("default kind"), default=False, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("group membership kind")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="membershipkind_name_ci_unique",
                violation_error_message=_("kind already exists"),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        _not_blank(self.name, _("kind should not be empty."), "name")
        if self.pk and self.protected:
            raise ValidationError(_("Can't edit default kinds"))

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self.protected:
            raise ValidationError(_("Can't delete default kinds"))
        return super().delete(*args, **kwargs)


@pghistory.track(*audit_trackers())
class RelationshipType(ValidatedModel):
    """A kind of relationship between registrants (upstream ``g2p.relationship``)."""

    name = models.CharField(_("name"), max_length=128)
    name_inverse = models.CharField(_("inverse name"), max_length=128)
    bidirectional = models.BooleanField(_("bidirectional"), default=False)
    source_type = models.CharField(
        _("source type"), max_length=1, choices=PartnerType.choices, blank=True
    )
    destination_type = models.CharField(
        _("destination type"), max_length=1, choices=PartnerType.choices, blank=True
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("relationship type")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="relationshiptype_name_ci_unique",
                violation_error_message=_("Relationship type already exists"),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        _not_blank(self.name, _("Name should not be empty."), "name")
        _not_blank(self.name_inverse, _("Inverse name should not be empty."), "name_inverse")


@pghistory.track(*audit_trackers())
class Bank(ValidatedModel):
    """A bank or payment institution holding registrants' accounts."""

    name = models.CharField(_("name"), max_length=255)
    bic = models.CharField(_("BIC / SWIFT"), max_length=11, blank=True)
    country_code = models.CharField(_("country"), max_length=2, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("bank")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="bank_name_ci_unique",
                violation_error_message=_("Bank already exists"),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        _not_blank(self.name, _("Bank name should not be empty."), "name")
        if self.bic and not re.fullmatch(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?", self.bic):
            raise ValidationError(
                {"bic": _("A BIC has 8 or 11 letters and digits, e.g. KCBLKENX.")}
            )


# --------------------------------------------------------------------------------------------
# Registrants
# --------------------------------------------------------------------------------------------


def individual_full_name(*, family_name: str, given_name: str, addl_name: str = "") -> str:
    """Upstream's display name for individuals: ``"FAMILY, GIVEN ADDL"`` in capitals.

    Upstream only computed it in the form (and left a trailing space); here it is derived on every
    write path, imports included.
    """
    family = (family_name or "").strip()
    rest = " ".join(p for p in ((given_name or "").strip(), (addl_name or "").strip()) if p)
    name = f"{family}, {rest}" if family and rest else family or rest
    return name.upper()


@pghistory.track(*audit_trackers())
class Registrant(ValidatedModel):
    """An individual or a group (household) of the registry: upstream's ``res.partner``.

    Individuals and groups share this table (``is_group``) like upstream, so programs, APIs and
    filters treat them alike. ``name`` is derived from the name parts for individuals. Disabling
    (``disabled`` set) is not deleting: the record stays, hidden from memberships and programs.
    """

    is_registrant = models.BooleanField(_("registrant"), default=True)
    is_group = models.BooleanField(_("group"), default=False)
    name = models.CharField(_("name"), max_length=512, db_index=True)
    given_name = models.CharField(_("given name"), max_length=128, blank=True)
    family_name = models.CharField(_("family name"), max_length=128, blank=True)
    addl_name = models.CharField(_("additional name"), max_length=128, blank=True)
    gender = models.ForeignKey(
        GenderType,
        to_field="value",
        db_column="gender",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("gender"),
        related_name="+",
    )
    birthdate = models.DateField(_("date of birth"), null=True, blank=True)
    birthdate_not_exact = models.BooleanField(_("approximate birthdate"), default=False)
    birth_place = models.CharField(_("birth place"), max_length=255, blank=True)
    registration_date = models.DateField(
        _("registration date"), default=_today, null=True, blank=True
    )
    address = models.TextField(_("address"), blank=True)
    email = models.EmailField(_("email"), blank=True)
    civil_status = models.CharField(_("civil status"), max_length=64, blank=True)
    occupation = models.CharField(_("occupation"), max_length=128, blank=True)
    income = models.DecimalField(
        _("income"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    kind = models.ForeignKey(
        GroupKind,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("group kind"),
        related_name="+",
    )
    is_partial_group = models.BooleanField(_("partial group"), default=False)
    tags = models.ManyToManyField(
        RegistrantTag, blank=True, verbose_name=_("tags"), related_name="registrants"
    )
    additional_g2p_info = models.JSONField(_("additional information"), default=dict, blank=True)
    company = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        default=default_company_id,
        verbose_name=_("company"),
        related_name="+",
    )
    active = models.BooleanField(_("active"), default=True)
    disabled = models.DateTimeField(_("date disabled"), null=True, blank=True)
    disabled_reason = models.TextField(_("reason for disabling"), blank=True)
    disabled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("disabled by"),
        related_name="+",
    )
    create_date = models.DateTimeField(_("created on"), auto_now_add=True)
    write_date = models.DateTimeField(_("last updated on"), auto_now=True)

    objects = RegistrantQuerySet.as_manager()

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("registrant")
        permissions = [("disable_registrant", _("Can disable and enable registrants"))]
        indexes = [
            models.Index(Upper("name"), name="registrant_name_upper_idx"),
            models.Index(fields=["birthdate"], name="registrant_birthdate_idx"),
            # Individuals / groups in id order (lists and RPC pages): an index-only scan,
            # ``active`` included for the RPC's active test.
            models.Index(
                fields=["is_group", "is_registrant", "id"],
                include=["active"],
                name="registrant_kind_id_idx",
            ),
            GinIndex(fields=["additional_g2p_info"], name="registrant_addl_info_gin"),
            # The (few) disabled registrants: bulk statements exclude them with an anti-join
            # on this index instead of visiting every registrant row.
            models.Index(
                fields=["id"], condition=Q(disabled__isnull=False), name="registrant_disabled_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(name=""),
                name="registrant_name_not_empty",
                violation_error_message=_("A name is required."),
            ),
            models.CheckConstraint(
                condition=Q(is_group=True) | Q(kind__isnull=True),
                name="registrant_kind_only_for_groups",
                violation_error_message=_("Only groups have a group kind."),
            ),
            models.CheckConstraint(
                condition=Q(registration_date__isnull=True)
                | Q(birthdate__isnull=True)
                | Q(registration_date__gte=F("birthdate")),
                name="registrant_registration_after_birth",
                violation_error_message=_("Registration date must be later than the birth date."),
            ),
            models.CheckConstraint(
                condition=Q(disabled__isnull=True) | ~Q(disabled_reason=""),
                name="registrant_disabled_has_reason",
                violation_error_message=_("A reason is required to disable a registrant."),
            ),
            models.CheckConstraint(
                condition=Q(income__isnull=True) | Q(income__gte=0),
                name="registrant_income_not_negative",
                violation_error_message=_("Negative values are not allowed."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def age(self) -> int | None:
        """Whole years since birth today.

        ``Registrant.objects.with_age()`` computes the same in SQL; its value, when present,
        is returned as is.
        """
        if "_sql_age" in self.__dict__:
            return self.__dict__["_sql_age"]
        if self.birthdate is None:
            return None
        today = timezone.localdate()
        years = today.year - self.birthdate.year
        if (today.month, today.day) < (self.birthdate.month, self.birthdate.day):
            years -= 1
        return years

    @age.setter
    def age(self, value: int | None) -> None:
        # Receives the ``age`` annotation of ``with_age()``.
        self.__dict__["_sql_age"] = value

    @property
    def is_disabled(self) -> bool:
        return self.disabled is not None

    def derive_fields(self) -> None:
        if not self.is_group and (self.given_name or self.family_name):
            self.name = individual_full_name(
                family_name=self.family_name, given_name=self.given_name, addl_name=self.addl_name
            )

    def clean(self) -> None:
        errors: dict[str, str] = {}
        today = timezone.localdate()
        if self.is_group:
            if self.given_name or self.family_name or self.addl_name:
                errors["given_name"] = str(_("Groups have a name, not given or family names."))
            if self.birthdate:
                errors["birthdate"] = str(_("Groups have no date of birth."))
            if self.gender_id:
                errors["gender"] = str(_("Groups have no gender."))
        else:
            if self.kind_id:
                errors["kind"] = str(_("Only groups have a group kind."))
            if not (self.given_name or "").strip():
                errors["given_name"] = str(_("The given name is required."))
            if not (self.family_name or "").strip():
                errors["family_name"] = str(_("The family name is required."))
        if not (self.name or "").strip() and "given_name" not in errors:
            errors["name"] = str(_("A name is required."))
        if self.birthdate and self.birthdate > today:
            errors["birthdate"] = str(_("You can't select a date of birth greater than today."))
        if self.registration_date:
            if self.registration_date > today:
                errors["registration_date"] = str(
                    _("Registration date must be less than the current date.")
                )
            elif self.birthdate and self.registration_date < self.birthdate:
                errors["registration_date"] = str(
                    _("Registration date must be later than the birth date.")
                )
        if self.gender_id:
            gender = (
                GenderType.objects.filter(value=self.gender_id)
                .values_list("active", flat=True)
                .first()
            )
            if gender is None:
                errors["gender"] = str(_("Invalid gender: %(g)s.") % {"g": self.gender_id})
        if self.disabled and not (self.disabled_reason or "").strip():
            errors["disabled_reason"] = str(_("A reason is required to disable a registrant."))
        if self.income is not None and self.income < 0:
            errors["income"] = str(_("Negative values are not allowed."))
        if errors:
            raise ValidationError(errors)


class Individual(Registrant):
    """Proxy: registrants that are people."""

    class Meta:
        proxy = True
        verbose_name = _("individual")
        verbose_name_plural = _("individuals")


class Group(Registrant):
    """Proxy: registrants that are groups (households, families)."""

    class Meta:
        proxy = True
        verbose_name = _("group")
        verbose_name_plural = _("groups")


@pghistory.track(
    *audit_trackers(), meta=history_lookup_indexes(registrantid_event_reg_idx="registrant")
)
class RegistrantId(ValidatedModel):
    """An identity document number of a registrant (upstream ``g2p.reg.id``).

    At most one per registrant and ID type (database constraint). The same value may appear on
    two registrants: that is what deduplication looks for, so it is indexed, not refused.
    """

    registrant = models.ForeignKey(
        Registrant, on_delete=models.CASCADE, related_name="reg_ids", verbose_name=_("registrant")
    )
    id_type = models.ForeignKey(
        IdType, on_delete=models.PROTECT, related_name="+", verbose_name=_("ID type")
    )
    value = models.CharField(_("value"), max_length=100)
    expiry_date = models.DateField(_("expiry date"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=RegIdStatus.choices, blank=True)
    description = models.CharField(_("description"), max_length=255, blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("registrant ID")
        verbose_name_plural = _("registrant IDs")
        constraints = [
            models.UniqueConstraint(
                fields=["registrant", "id_type"],
                name="regid_one_per_type",
                violation_error_message=_("ID Type must be unique."),
            ),
            models.CheckConstraint(
                condition=~Q(value=""),
                name="regid_value_not_empty",
                violation_error_message=_("The ID value is required."),
            ),
        ]
        indexes = [models.Index(fields=["id_type", "value"], name="regid_type_value_idx")]

    def __str__(self) -> str:
        return f"{self.id_type_id and self.id_type.name}: {self.value}"

    def clean(self) -> None:
        self.value = (self.value or "").strip()
        if not self.value:
            raise ValidationError({"value": _("The ID value is required.")})
        if self.id_type_id:
            message = self.id_type.value_error(self.value)
            if message:
                raise ValidationError({"value": message})


def normalize_phone(raw: str, *, region: str | None = None) -> str:
    """``raw`` as E.164 (``+254712345678``), or :class:`ValidationError` naming ``phone_no``.

    Numbers without a ``+`` prefix are read in ``region`` (ISO country code; default
    ``settings.G2P_DEFAULT_PHONE_REGION``).
    """
    text = (raw or "").strip()
    if not text:
        raise ValidationError({"phone_no": _("The phone number is required.")})
    try:
        parsed = phonenumbers.parse(
            text, (region or settings.G2P_DEFAULT_PHONE_REGION or "").upper() or None
        )
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            {"phone_no": _("'%(p)s' is not a phone number.") % {"p": text}}
        ) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError({"phone_no": _("'%(p)s' is not a valid phone number.") % {"p": text}})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@pghistory.track(
    *audit_trackers(), meta=history_lookup_indexes(phone_event_registrant_idx="registrant")
)
class PhoneNumber(ValidatedModel):
    """A phone number of a registrant (upstream ``g2p.phone.number``), kept in E.164."""

    registrant = models.ForeignKey(
        Registrant,
        on_delete=models.CASCADE,
        related_name="phone_numbers",
        verbose_name=_("registrant"),
    )
    phone_no = models.CharField(_("phone number"), max_length=32)
    phone_sanitized = models.CharField(
        _("phone (E.164)"), max_length=20, editable=False, db_index=True
    )
    country_code = models.CharField(_("country"), max_length=2, blank=True)
    date_collected = models.DateField(_("date collected"), default=_today, null=True, blank=True)
    disabled = models.DateTimeField(_("date disabled"), null=True, blank=True)
    disabled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("phone number")
        constraints = [
            models.UniqueConstraint(
                fields=["registrant", "phone_sanitized"],
                name="phone_unique_per_registrant",
                violation_error_message=_("This registrant already has this phone number."),
            ),
            models.CheckConstraint(
                condition=Q(phone_sanitized__startswith="+"), name="phone_is_e164"
            ),
        ]

    def __str__(self) -> str:
        return self.phone_sanitized or self.phone_no

    def derive_fields(self) -> None:
        region = self.country_code or None
        company_id = self.registrant.company_id if self.registrant_id else None
        if not region and company_id:
            region = (
                Company.objects.filter(pk=company_id).values_list("country_code", flat=True).first()
                or None
            )
        self.phone_sanitized = normalize_phone(self.phone_no, region=region)

    def clean(self) -> None:
        if self.date_collected and self.date_collected > timezone.localdate():
            raise ValidationError({"date_collected": _("Date collected cannot be in the future.")})

    def validate_constraints(self, exclude: Any = None) -> None:
        # phone_sanitized is derived in clean(), which runs after the constraint check would
        # skip it; check with the derived value.
        super().validate_constraints(
            exclude=None if exclude is None else set(exclude) - {"phone_sanitized"}
        )


@pghistory.track(
    *audit_trackers(), meta=history_lookup_indexes(bankacc_event_registrant_idx="registrant")
)
class BankAccount(ValidatedModel):
    """A bank account of a registrant (upstream ``res.partner.bank``)."""

    registrant = models.ForeignKey(
        Registrant,
        on_delete=models.CASCADE,
        related_name="bank_accounts",
        verbose_name=_("registrant"),
    )
    bank = models.ForeignKey(
        Bank, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("bank")
    )
    acc_number = models.CharField(_("account number"), max_length=64)
    acc_holder_name = models.CharField(_("account holder"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("bank account")
        constraints = [
            models.UniqueConstraint(
                fields=["registrant", "bank", "acc_number"],
                name="bankaccount_unique",
                violation_error_message=_("This account is already recorded for this registrant."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bank_id and self.bank.name} {self.acc_number}"

    def clean(self) -> None:
        self.acc_number = re.sub(r"\s+", "", self.acc_number or "")
        if not re.fullmatch(r"[A-Za-z0-9\-]{4,64}", self.acc_number):
            raise ValidationError({"acc_number": _("Invalid account number.")})


@pghistory.track(
    *audit_trackers(),
    meta=history_lookup_indexes(
        membership_event_group_idx="group", membership_event_person_idx="individual"
    ),
)
class GroupMembership(ValidatedModel):
    """An individual's membership of a group (upstream ``g2p.group.membership``).

    One row per (group, individual). A membership is *ended* once its ``ended_date`` has passed;
    that is evaluated at query time (:meth:`GroupMembershipQuerySet.current`), never stored, so
    it cannot go stale. ``kinds`` marked unique ("Head") are held by at most one open membership
    (no end date) per group: checked here and enforced by a database trigger for every path.
    """

    group = models.ForeignKey(
        Registrant,
        on_delete=models.CASCADE,
        related_name="group_memberships",
        verbose_name=_("group"),
    )
    individual = models.ForeignKey(
        Registrant,
        on_delete=models.CASCADE,
        related_name="individual_memberships",
        verbose_name=_("individual"),
    )
    kinds = models.ManyToManyField(
        MembershipKind, blank=True, verbose_name=_("role"), related_name="+"
    )
    start_date = models.DateTimeField(_("start date"), default=timezone.now, null=True, blank=True)
    ended_date = models.DateTimeField(_("end date"), null=True, blank=True)

    objects = GroupMembershipQuerySet.as_manager()

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("group membership")
        constraints = [
            models.UniqueConstraint(
                fields=["group", "individual"],
                name="membership_unique_member",
                violation_error_message=_("Duplication of Member is not allowed"),
            ),
            models.CheckConstraint(
                condition=Q(ended_date__isnull=True)
                | Q(start_date__isnull=True)
                | Q(ended_date__gte=F("start_date")),
                name="membership_end_after_start",
                violation_error_message=_("End Date cannot be earlier than Start Date"),
            ),
            models.CheckConstraint(condition=~Q(group=F("individual")), name="membership_not_self"),
        ]
        indexes = [models.Index(fields=["individual"], name="membership_individual_idx")]

    def __str__(self) -> str:
        return (
            f"{self.group_id and self.group.name} / {self.individual_id and self.individual.name}"
        )

    @property
    def status(self) -> str:
        if self.ended_date and self.ended_date <= timezone.now():
            return MembershipStatus.INACTIVE
        return MembershipStatus.ACTIVE

    @property
    def is_ended(self) -> bool:
        return self.status == MembershipStatus.INACTIVE

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.group_id and not (self.group.is_group and self.group.is_registrant):
            errors["group"] = str(_("The group must be a registrant group."))
        if self.individual_id and (self.individual.is_group or not self.individual.is_registrant):
            errors["individual"] = str(_("The member must be a registrant individual."))
        if self.ended_date and self.start_date and self.ended_date < self.start_date:
            errors["ended_date"] = str(_("End Date cannot be earlier than Start Date"))
        if errors:
            raise ValidationError(errors)


@pghistory.track(
    *audit_trackers(),
    meta=history_lookup_indexes(
        relationship_event_source_idx="source", relationship_event_dest_idx="destination"
    ),
)
class Relationship(ValidatedModel):
    """A relationship between two registrants (upstream ``g2p.reg.rel``).

    Refused: a registrant related to itself, a start after the end, and a second relationship of
    the same type between the same two registrants over an overlapping period (a trigger checks
    the overlap under a lock, so concurrent writes cannot slip through).
    """

    source = models.ForeignKey(
        Registrant,
        on_delete=models.CASCADE,
        related_name="related_2_ids",
        verbose_name=_("registrant 1"),
    )
    destination = models.ForeignKey(
        Registrant,
        on_delete=models.CASCADE,
        related_name="related_1_ids",
        verbose_name=_("registrant 2"),
    )
    relation = models.ForeignKey(
        RelationshipType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("relation"),
        related_name="+",
    )
    start_date = models.DateTimeField(_("start date"), null=True, blank=True)
    end_date = models.DateTimeField(_("end date"), null=True, blank=True)
    disabled = models.DateTimeField(_("date disabled"), null=True, blank=True)
    disabled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("relationship")
        constraints = [
            models.CheckConstraint(
                condition=~Q(source=F("destination")),
                name="relationship_not_self",
                violation_error_message=_("Registrant 1 and Registrant 2 cannot be the same."),
            ),
            models.CheckConstraint(
                condition=Q(start_date__isnull=True)
                | Q(end_date__isnull=True)
                | Q(start_date__lte=F("end_date")),
                name="relationship_dates_ordered",
                violation_error_message=_("The starting date cannot be after the ending date."),
            ),
        ]
        indexes = [models.Index(fields=["source", "destination"], name="relationship_pair_idx")]

    def __str__(self) -> str:
        source = self.source.name if self.source_id else ""
        destination = self.destination.name if self.destination_id else ""
        return f"{source} / {destination}"

    def overlapping(self) -> models.QuerySet[Relationship]:
        """Other relationships of the same type between the same two registrants that overlap."""
        qs = Relationship.objects.filter(
            source_id=self.source_id,
            destination_id=self.destination_id,
            relation_id=self.relation_id,
        ).exclude(pk=self.pk)
        if self.start_date:
            qs = qs.filter(Q(end_date__isnull=True) | Q(end_date__gte=self.start_date))
        if self.end_date:
            qs = qs.filter(Q(start_date__isnull=True) | Q(start_date__lte=self.end_date))
        return qs

    def clean(self) -> None:
        if self.source_id and self.source_id == self.destination_id:
            raise ValidationError(
                {"destination": _("Registrant 1 and Registrant 2 cannot be the same.")}
            )
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise ValidationError(
                {"end_date": _("The starting date cannot be after the ending date.")}
            )
        for side in ("source", "destination"):
            if not getattr(self, f"{side}_id"):
                continue
            party = getattr(self, side)
            wanted = getattr(self.relation, f"{side}_type") if self.relation_id else ""
            if (
                not party.is_registrant
                or (wanted == PartnerType.INDIVIDUAL and party.is_group)
                or (wanted == PartnerType.GROUP and not party.is_group)
            ):
                message = _("This registrant is not applicable for this relation type.")
                raise ValidationError({side: message})
        if self.source_id and self.destination_id and self.overlapping().exists():
            raise ValidationError(
                {
                    "relation": _(
                        "This relationship overlaps an existing one between the same registrants."
                    )
                }
            )


class ImportState(models.TextChoices):
    DRAFT = "draft", _("Uploaded")
    VALIDATED = "validated", _("Validated")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Failed")


class ImportMode(models.TextChoices):
    ALL_OR_NOTHING = "all_or_nothing", _("Write nothing if any row is invalid")
    SKIP_INVALID = "skip_invalid", _("Write the valid rows, report the invalid ones")


class RegistryImport(models.Model):
    """One upload of a registry file (XLSX or CSV): its content, validation report and outcome.

    The file is kept in the database so that a worker on another machine can run it. See
    :mod:`g2p_registry_base.imports` for the format and the write rules.
    """

    file_name = models.CharField(_("file"), max_length=255)
    content = models.BinaryField(_("content"), editable=False)
    mode = models.CharField(
        _("mode"), max_length=20, choices=ImportMode.choices, default=ImportMode.ALL_OR_NOTHING
    )
    state = models.CharField(
        _("state"), max_length=16, choices=ImportState.choices, default=ImportState.DRAFT
    )
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_invalid = models.PositiveIntegerField(_("invalid rows"), default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    job = models.ForeignKey(
        "pbms.JobProgress", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name = _("registry import")

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_state_display()})"


# Membership roles live in Django's auto-created link table; track it too so that adding or
# removing a role shows in the audit trail.
pghistory.track(
    pghistory.InsertEvent("kind.add"),
    pghistory.DeleteEvent("kind.remove"),
    obj_field=None,
    model_name="MembershipKindLinkEvent",
    meta=history_lookup_indexes(kindlink_event_membership_idx="groupmembership"),
    app_label="g2p_registry_base",
)(GroupMembership.kinds.through)

pghistory.track(
    pghistory.InsertEvent("tag.add"),
    pghistory.DeleteEvent("tag.remove"),
    obj_field=None,
    model_name="RegistrantTagLinkEvent",
    meta=history_lookup_indexes(taglink_event_registrant_idx="registrant"),
    app_label="g2p_registry_base",
)(Registrant.tags.through)
