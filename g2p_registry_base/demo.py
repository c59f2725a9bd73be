"""Demo data: a realistic, deterministic registry of households for the demo server and tests.

:func:`demo_load` writes about ``individuals`` people in ``individuals / 4`` households (sizes
1–8, mean 4): Kenyan (``en_KE`` and Swahili ``sw`` names) and francophone (``fr_FR``) families,
each with exactly one Head, spouses and children with consistent family names, genders matching
first names, plausible birth and registration dates, addresses, some e-mails, national IDs and
household numbers that match their ID type's pattern in full, valid Kenyan mobile numbers in
E.164, tags, additional information, a few disabled registrants, relationships and bank
accounts.

It is fast because every table is written with ``bulk_create`` (about 30 statements in all for
2,000 people, loaded in about 1.5 s), and it stays valid although ``bulk_create`` skips
``full_clean()``: the generator only produces values the models accept (``name`` derived with
:func:`~g2p_registry_base.models.individual_full_name`, phones checked by ``phonenumbers``, IDs
checked against their pattern), and the database constraints and triggers still apply. The
whole load is one transaction, recorded in the audit trail under the context ``source="demo"``.

Deterministic: a fixed seed gives the same names, IDs and phones on every run; dates are
relative to the day of the load so that ages stay realistic.
"""

from __future__ import annotations

import datetime
import random
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pghistory
import phonenumbers
from django.db import transaction
from django.utils import timezone
from faker import Faker

from g2p_registry_base import models
from g2p_registry_base.choices import HEAD_KIND_NAME, PartnerType
from g2p_registry_base.querysets import years_before

SEED = 20240617

# Share of households per name locale: Kenyan English, Swahili and francophone (refugee) families.
LOCALES: tuple[tuple[str, float], ...] = (("en_KE", 0.6), ("sw", 0.25), ("fr_FR", 0.15))

# Household sizes 1–8 and their weights: mean 4, like a rural East African survey.
HOUSEHOLD_SIZE_WEIGHTS: tuple[tuple[int, int], ...] = (
    (1, 8),
    (2, 12),
    (3, 17),
    (4, 20),
    (5, 17),
    (6, 12),
    (7, 8),
    (8, 6),
)

NATIONAL_ID = ("National ID", r"[0-9]{9}", "National identity card number.")
HOUSEHOLD_NUMBER = (
    "Household Number",
    r"HH-[0-9]{6}",
    "Number given to a household at registration.",
)

SPOUSE_KIND = "Spouse"
CHILD_KIND = "Child"
RELATIVE_KIND = "Other relative"

TAG_URBAN = "Urban"
TAG_RURAL = "Rural"
TAG_DISABILITY = "Disability"
TAG_FEMALE_HEADED = "Female-headed"
TAG_ELDERLY = "Elderly"
TAGS: tuple[tuple[str, int], ...] = (
    (TAG_URBAN, 4),
    (TAG_RURAL, 10),
    (TAG_DISABILITY, 1),
    (TAG_FEMALE_HEADED, 9),
    (TAG_ELDERLY, 3),
)

REL_SPOUSE = "Spouse of"
REL_PARENT = "Parent of"

BANKS: tuple[tuple[str, str], ...] = (
    ("KCB Bank Kenya", "KCBLKENX"),
    ("Equity Bank Kenya", "EQBLKENA"),
    ("Co-operative Bank of Kenya", "KCOOKENA"),
)

# Real operator prefixes (Safaricom, Airtel, Telkom) of Kenyan mobile numbers, after the 0.
MOBILE_PREFIXES = tuple(
    (
        "701 702 703 704 705 706 707 708 709 710 711 712 713 714 715 716 717 718 719 720 721 722 "
        "723 724 725 726 727 728 729 733 734 735 736 737 738 739 740 741 742 743 745 746 748 750 "
        "751 752 753 754 755 756 757 758 759 762 768 769 770 771 772 780 781 782 785 786 787 788 "
        "789 790 791 792 793 794 795 796 797 798 799 110 111 112 113 114 115"
    ).split()
)

# (county, [(town or estate, urban?)]): where households live.
PLACES: tuple[tuple[str, tuple[tuple[str, bool], ...]], ...] = (
    ("Nairobi", (("Kibera", True), ("Mathare", True), ("Kawangware", True), ("Embakasi", True))),
    ("Mombasa", (("Likoni", True), ("Kisauni", True), ("Changamwe", True))),
    ("Kisumu", (("Nyalenda", True), ("Kondele", True), ("Ahero", False), ("Muhoroni", False))),
    ("Turkana", (("Kakuma", False), ("Lodwar", False), ("Lokichoggio", False))),
    ("Garissa", (("Dadaab", False), ("Hagadera", False), ("Balambala", False))),
    ("Kakamega", (("Mumias", False), ("Butere", False), ("Malava", False))),
    ("Kitui", (("Mwingi", False), ("Mutomo", False), ("Kyuso", False))),
    ("Nakuru", (("Naivasha", True), ("Molo", False), ("Njoro", False))),
    ("Kilifi", (("Malindi", True), ("Mariakani", False), ("Ganze", False))),
    ("Marsabit", (("Moyale", False), ("Laisamis", False), ("North Horr", False))),
)

DWELLINGS = (
    "Permanent house",
    "Semi-permanent house",
    "Mud house",
    "Iron-sheet shack",
    "Tent",
    "Manyatta",
)
WATER_SOURCES = (
    "Piped into dwelling",
    "Public tap",
    "Borehole",
    "Protected well",
    "River or lake",
    "Water vendor",
)
OCCUPATIONS = (
    "Farmer",
    "Pastoralist",
    "Casual labourer",
    "Trader",
    "Boda-boda rider",
    "Teacher",
    "Fisher",
    "Tailor",
    "Domestic worker",
    "Unemployed",
    "Mechanic",
    "Nurse",
)
DISABLED_REASONS = (
    "Deceased (reported by the chief's office).",
    "Duplicate of another registrant.",
    "Moved out of the country.",
    "Could not be traced at the registered address after three visits.",
)
EDUCATION = ("None", "Primary", "Secondary", "Tertiary")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")


@dataclass
class _Person:
    given: str
    family: str
    gender: str
    birthdate: datetime.date
    kind: str  # membership kind name, "" for none
    adult: bool
    registrant: models.Registrant | None = None


@dataclass
class _Household:
    locale: str
    family: str
    county: str
    town: str
    urban: bool
    members: list[_Person] = field(default_factory=list)
    registration_date: datetime.date | None = None
    group: models.Registrant | None = None


def demo_load(*, individuals: int = 2000, force: bool = False) -> int:
    """Load the demo registry; return the number of individuals created.

    Args:
        individuals: how many people to create, in ``max(1, individuals // 4)`` households.
        force: load even when registrants already exist (a forced second load draws other
            people: the seed is offset by the number of registrants already there).

    Returns 0 and writes nothing when registrants already exist and ``force`` is false, so the
    demo server can call it on every start. One transaction; one ``INSERT`` per table and
    2,000 rows (``bulk_create`` batches) plus a few look-ups of the configuration lists.
    """
    if individuals <= 0:
        return 0
    existing = models.Registrant.objects.count()
    if existing and not force:
        return 0
    with transaction.atomic(), pghistory.context(source="demo"):
        return _Loader(seed=SEED + existing, individuals=individuals).run()


class _Loader:
    def __init__(self, *, seed: int, individuals: int) -> None:
        self.rng = random.Random(seed)
        self.fakers: dict[str, Faker] = {}
        for offset, (locale, _share) in enumerate(LOCALES):
            fake = Faker(locale)
            fake.seed_instance(seed + offset)
            self.fakers[locale] = fake
        self.individuals = individuals
        self.today = timezone.localdate()
        self.now = timezone.now()
        self.company_id = models.default_company_id()
        self.used_phones: set[str] = set()

    # ---------------------------------------------------------------------------------------
    # configuration lists
    # ---------------------------------------------------------------------------------------

    def _config(self) -> None:
        self.national_id = _get_or_create_ci(
            models.IdType, NATIONAL_ID[0], id_validation=NATIONAL_ID[1], description=NATIONAL_ID[2]
        )
        self.household_number = _get_or_create_ci(
            models.IdType,
            HOUSEHOLD_NUMBER[0],
            id_validation=HOUSEHOLD_NUMBER[1],
            description=HOUSEHOLD_NUMBER[2],
        )
        self.kinds = {
            HEAD_KIND_NAME: models.MembershipKind.objects.get(name__iexact=HEAD_KIND_NAME),
            SPOUSE_KIND: _get_or_create_ci(models.MembershipKind, SPOUSE_KIND),
            CHILD_KIND: _get_or_create_ci(models.MembershipKind, CHILD_KIND),
            RELATIVE_KIND: _get_or_create_ci(models.MembershipKind, RELATIVE_KIND),
        }
        self.tags = {
            name: _get_or_create_ci(models.RegistrantTag, name, color=color) for name, color in TAGS
        }
        self.household_kind = _get_or_create_ci(models.GroupKind, "Household")
        self.rel_spouse = _get_or_create_ci(
            models.RelationshipType,
            REL_SPOUSE,
            name_inverse=REL_SPOUSE,
            bidirectional=True,
            source_type=PartnerType.INDIVIDUAL,
            destination_type=PartnerType.INDIVIDUAL,
        )
        self.rel_parent = _get_or_create_ci(
            models.RelationshipType,
            REL_PARENT,
            name_inverse="Child of",
            source_type=PartnerType.INDIVIDUAL,
            destination_type=PartnerType.INDIVIDUAL,
        )
        self.banks = [
            _get_or_create_ci(models.Bank, name, bic=bic, country_code="KE") for name, bic in BANKS
        ]
        for id_type, sample in (
            (self.national_id, "123456789"),
            (self.household_number, "HH-123456"),
        ):
            if id_type.value_error(sample):
                raise ValueError(
                    f"ID type {id_type.name!r} has pattern {id_type.id_validation!r}; "
                    f"the demo needs {sample!r} to fit."
                )

    # ---------------------------------------------------------------------------------------
    # generation (no queries)
    # ---------------------------------------------------------------------------------------

    def _sizes(self, households: int) -> list[int]:
        sizes_, weights = zip(*HOUSEHOLD_SIZE_WEIGHTS, strict=True)
        sizes = self.rng.choices(sizes_, weights=weights, k=households)
        total = sum(sizes)
        # Nudge random households by one until the total is exact (always feasible: the target
        # lies between 1 and 8 people per household).
        while total != self.individuals:
            i = self.rng.randrange(households)
            if total < self.individuals and sizes[i] < 8:
                sizes[i] += 1
                total += 1
            elif total > self.individuals and sizes[i] > 1:
                sizes[i] -= 1
                total -= 1
        return sizes

    def _birthdate(self, age: int) -> datetime.date:
        """A birthdate of someone aged exactly ``age`` today."""
        latest = years_before(self.today, age)
        earliest = years_before(self.today, age + 1) + datetime.timedelta(days=1)
        return earliest + datetime.timedelta(days=self.rng.randrange((latest - earliest).days + 1))

    def _person(self, fake: Faker, family: str, gender: str, age: int, kind: str) -> _Person:
        given = fake.first_name_female() if gender == "Female" else fake.first_name_male()
        return _Person(
            given=given,
            family=family,
            gender=gender,
            birthdate=self._birthdate(age),
            kind=kind,
            adult=age >= 18,
        )

    def _household(self, size: int) -> _Household:
        rng = self.rng
        locales, shares = zip(*LOCALES, strict=True)
        locale = rng.choices(locales, weights=shares)[0]
        fake = self.fakers[locale]
        family = fake.last_name()
        county, towns = rng.choice(PLACES)
        town, urban = rng.choice(towns)
        household = _Household(locale=locale, family=family, county=county, town=town, urban=urban)

        female_head = rng.random() < (0.6 if size == 1 else 0.3)
        head_gender = "Female" if female_head else "Male"
        head_age = rng.randint(20, 80)
        household.members.append(self._person(fake, family, head_gender, head_age, HEAD_KIND_NAME))
        remaining = size - 1
        if remaining and (not female_head or rng.random() < 0.2):
            spouse_gender = "Male" if female_head else "Female"
            spouse_age = max(18, min(85, head_age + rng.randint(-8, 4)))
            household.members.append(
                self._person(fake, family, spouse_gender, spouse_age, SPOUSE_KIND)
            )
            remaining -= 1
        # A grandparent now and then, when the head is young enough to have a living parent.
        if remaining >= 2 and head_age <= 50 and rng.random() < 0.2:
            gp_gender = rng.choice(("Female", "Male"))
            gp_age = min(95, head_age + rng.randint(20, 35))
            household.members.append(self._person(fake, family, gp_gender, gp_age, RELATIVE_KIND))
            remaining -= 1
        max_child_age = max(0, min(head_age - 16, 30))
        for _ in range(remaining):
            child_age = rng.randint(0, max_child_age)
            # Some children carry no role (upstream leaves the role empty for most members).
            kind = CHILD_KIND if rng.random() < 0.8 else ""
            household.members.append(
                self._person(fake, family, rng.choice(("Female", "Male")), child_age, kind)
            )
        youngest = max(p.birthdate for p in household.members)
        start = max(youngest, self.today - datetime.timedelta(days=5 * 365))
        household.registration_date = start + datetime.timedelta(
            days=rng.randrange((self.today - start).days + 1)
        )
        return household

    def _phone(self) -> tuple[str, str]:
        """(as typed, E.164) for a fresh valid Kenyan mobile number."""
        while True:
            prefix = self.rng.choice(MOBILE_PREFIXES)
            subscriber = f"{self.rng.randrange(1_000_000):06d}"
            e164 = f"+254{prefix}{subscriber}"
            if e164 in self.used_phones:
                continue
            if not phonenumbers.is_valid_number(phonenumbers.parse(e164)):
                continue
            self.used_phones.add(e164)
            style = self.rng.random()
            if style < 0.5:
                typed = f"0{prefix} {subscriber[:3]} {subscriber[3:]}"
            elif style < 0.8:
                typed = e164
            else:
                typed = f"0{prefix}{subscriber}"
            return typed, e164

    # ---------------------------------------------------------------------------------------
    # writing
    # ---------------------------------------------------------------------------------------

    def run(self) -> int:
        self._config()
        rng = self.rng
        households = [self._household(size) for size in self._sizes(max(1, self.individuals // 4))]

        # Registrants: groups, then their people.
        groups: list[models.Registrant] = []
        people: list[models.Registrant] = []
        for hh in households:
            address = f"Plot {rng.randint(1, 999)}, {hh.town}, {hh.county} County, Kenya"
            info: dict[str, Any] = {
                "household_size": len(hh.members),
                "dwelling": rng.choice(DWELLINGS[:2] if hh.urban else DWELLINGS),
                "water_source": rng.choice(WATER_SOURCES),
                "rooms": rng.randint(1, 4),
            }
            if not hh.urban:
                info["livestock"] = rng.randint(0, 30)
            hh.group = models.Registrant(
                is_group=True,
                name=f"{hh.family} Household",
                kind=self.household_kind,
                registration_date=hh.registration_date,
                address=address,
                additional_g2p_info=info,
                company_id=self.company_id,
            )
            groups.append(hh.group)
            for person in hh.members:
                extra: dict[str, Any] = {}
                if rng.random() < 0.3:
                    extra["education"] = rng.choice(EDUCATION)
                email = ""
                if person.adult and rng.random() < 0.25:
                    local = _ascii(f"{person.given}.{person.family}").lower()
                    email = f"{local}{rng.randint(1, 99)}@{rng.choice(EMAIL_DOMAINS)}"
                income = None
                if person.kind == HEAD_KIND_NAME and rng.random() < 0.6:
                    income = Decimal(rng.randrange(0, 60_000, 50))
                person.registrant = models.Registrant(
                    is_group=False,
                    given_name=person.given,
                    family_name=person.family,
                    name=models.individual_full_name(
                        family_name=person.family, given_name=person.given
                    ),
                    gender_id=person.gender,
                    birthdate=person.birthdate,
                    birthdate_not_exact=rng.random() < 0.05,
                    birth_place=hh.town if rng.random() < 0.7 else "",
                    registration_date=hh.registration_date,
                    address=address,
                    email=email,
                    civil_status=_civil_status(person, rng) if person.adult else "Single",
                    occupation=rng.choice(OCCUPATIONS) if person.adult else "",
                    income=income,
                    additional_g2p_info=extra,
                    company_id=self.company_id,
                )
                people.append(person.registrant)

        # A few disabled people, each with a reason, disabled after registration.
        for registrant in rng.sample(people, k=max(1, len(people) // 200)):
            assert registrant.registration_date is not None
            days = max(0, (self.today - registrant.registration_date).days)
            when = datetime.datetime.combine(
                registrant.registration_date + datetime.timedelta(days=rng.randint(0, days)),
                datetime.time(rng.randint(8, 16), rng.randint(0, 59)),
                tzinfo=datetime.UTC,
            )
            registrant.disabled = min(when, self.now)
            registrant.disabled_reason = rng.choice(DISABLED_REASONS)

        models.Registrant.objects.bulk_create(groups + people, batch_size=2000)

        self._write_ids(households, people)
        self._write_phones(households)
        self._write_memberships(households)
        self._write_tags(households)
        self._write_relationships(households)
        self._write_bank_accounts(households)
        return len(people)

    def _write_ids(self, households: list[_Household], people: list[models.Registrant]) -> None:
        rng = self.rng
        adults = [p for hh in households for p in hh.members if p.adult]
        national = rng.sample(range(100_000_000, 1_000_000_000), k=len(adults))
        numbers = rng.sample(range(1_000_000), k=len(households))
        rows = [
            models.RegistrantId(
                registrant=p.registrant,
                id_type=self.national_id,
                value=f"{value:09d}",
                status="valid",
                expiry_date=self.today + datetime.timedelta(days=rng.randint(365, 10 * 365)),
            )
            for p, value in zip(adults, national, strict=True)
            if rng.random() < 0.9
        ]
        rows += [
            models.RegistrantId(
                registrant=hh.group,
                id_type=self.household_number,
                value=f"HH-{n:06d}",
                status="valid",
            )
            for hh, n in zip(households, numbers, strict=True)
        ]
        models.RegistrantId.objects.bulk_create(rows, batch_size=2000)

    def _write_phones(self, households: list[_Household]) -> None:
        rows = []
        for hh in households:
            for person in hh.members:
                # Most adults and some teenagers have a phone; one in ten has two.
                age = (self.today - person.birthdate).days // 365
                if not (
                    person.adult
                    and self.rng.random() < 0.9
                    or 14 <= age < 18
                    and self.rng.random() < 0.3
                ):
                    continue
                for _ in range(2 if self.rng.random() < 0.1 else 1):
                    typed, e164 = self._phone()
                    rows.append(
                        models.PhoneNumber(
                            registrant=person.registrant,
                            phone_no=typed,
                            phone_sanitized=e164,
                            country_code="KE",
                            date_collected=hh.registration_date,
                        )
                    )
        models.PhoneNumber.objects.bulk_create(rows, batch_size=2000)

    def _write_memberships(self, households: list[_Household]) -> None:
        memberships = []
        kinds = []
        for hh in households:
            assert hh.registration_date is not None
            start = min(
                self.now,
                datetime.datetime.combine(
                    hh.registration_date, datetime.time(9, 0), tzinfo=datetime.UTC
                ),
            )
            for person in hh.members:
                membership = models.GroupMembership(
                    group=hh.group, individual=person.registrant, start_date=start
                )
                memberships.append(membership)
                if person.kind:
                    kinds.append((membership, self.kinds[person.kind]))
        models.GroupMembership.objects.bulk_create(memberships, batch_size=2000)
        link = models.GroupMembership.kinds.through
        link.objects.bulk_create(
            [link(groupmembership_id=m.pk, membershipkind_id=k.pk) for m, k in kinds],
            batch_size=2000,
        )

    def _write_tags(self, households: list[_Household]) -> None:
        link = models.Registrant.tags.through
        rows = []
        for hh in households:
            assert hh.group is not None
            if self.rng.random() < 0.9:
                rows.append(
                    link(
                        registrant_id=hh.group.pk,
                        registranttag_id=self.tags[TAG_URBAN if hh.urban else TAG_RURAL].pk,
                    )
                )
            if hh.members[0].gender == "Female":
                rows.append(
                    link(
                        registrant_id=hh.group.pk, registranttag_id=self.tags[TAG_FEMALE_HEADED].pk
                    )
                )
            for person in hh.members:
                assert person.registrant is not None
                if self.rng.random() < 0.04:
                    rows.append(
                        link(
                            registrant_id=person.registrant.pk,
                            registranttag_id=self.tags[TAG_DISABILITY].pk,
                        )
                    )
                if (self.today - person.birthdate).days >= 65 * 365:
                    rows.append(
                        link(
                            registrant_id=person.registrant.pk,
                            registranttag_id=self.tags[TAG_ELDERLY].pk,
                        )
                    )
        link.objects.bulk_create(rows, batch_size=2000)

    def _write_relationships(self, households: list[_Household]) -> None:
        rows = []
        for hh in households[: max(1, len(households) // 25)]:
            head = hh.members[0]
            start = min(
                self.now,
                datetime.datetime.combine(
                    hh.registration_date or self.today, datetime.time(9, 0), tzinfo=datetime.UTC
                ),
            )
            for person in hh.members[1:]:
                if person.kind == SPOUSE_KIND:
                    rows.append(
                        models.Relationship(
                            source=head.registrant,
                            destination=person.registrant,
                            relation=self.rel_spouse,
                            start_date=start,
                        )
                    )
                elif person.kind == CHILD_KIND:
                    rows.append(
                        models.Relationship(
                            source=head.registrant,
                            destination=person.registrant,
                            relation=self.rel_parent,
                            start_date=start,
                        )
                    )
        models.Relationship.objects.bulk_create(rows, batch_size=2000)

    def _write_bank_accounts(self, households: list[_Household]) -> None:
        rows = []
        for hh in households:
            head = hh.members[0]
            if self.rng.random() < 0.15:
                assert head.registrant is not None
                rows.append(
                    models.BankAccount(
                        registrant=head.registrant,
                        bank=self.rng.choice(self.banks),
                        acc_number=f"{self.rng.randrange(10**12, 10**13)}",
                        acc_holder_name=head.registrant.name,
                    )
                )
        models.BankAccount.objects.bulk_create(rows, batch_size=2000)


def _civil_status(person: _Person, rng: random.Random) -> str:
    if person.kind in (HEAD_KIND_NAME, SPOUSE_KIND):
        return (
            "Married"
            if person.kind == SPOUSE_KIND or rng.random() < 0.6
            else rng.choice(("Widowed", "Divorced", "Single"))
        )
    return rng.choice(("Single", "Married", "Widowed"))


def _ascii(text: str) -> str:
    """``text`` without accents and without characters an e-mail local part should not hold."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9.]+", "", plain).strip(".") or "user"


def _get_or_create_ci(model: type[Any], name: str, **defaults: Any) -> Any:
    """The row named ``name`` (any case), created and validated with ``defaults`` if missing."""
    found = model.objects.filter(name__iexact=name).first()
    if found is not None:
        return found
    row = model(name=name, **defaults)
    row.save()
    return row
