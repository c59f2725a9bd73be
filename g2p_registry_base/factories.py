"""Factories for registry records, shipped with the app so add-on apps reuse them."""

from __future__ import annotations

import datetime

import factory
from factory.django import DjangoModelFactory

from g2p_registry_base import models


class IdTypeFactory(DjangoModelFactory):
    class Meta:
        model = models.IdType
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"ID type {n}")


class RegistrantTagFactory(DjangoModelFactory):
    class Meta:
        model = models.RegistrantTag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Tag {n}")


class IndividualFactory(DjangoModelFactory):
    class Meta:
        model = models.Registrant

    is_group = False
    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    gender_id = "Female"
    birthdate = datetime.date(1990, 5, 17)
    registration_date = datetime.date(2024, 1, 10)


class GroupFactory(DjangoModelFactory):
    class Meta:
        model = models.Registrant

    is_group = True
    name = factory.Sequence(lambda n: f"Household {n}")
    registration_date = datetime.date(2024, 1, 10)


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = models.GroupMembership

    group = factory.SubFactory(GroupFactory)
    individual = factory.SubFactory(IndividualFactory)


class RegistrantIdFactory(DjangoModelFactory):
    class Meta:
        model = models.RegistrantId

    registrant = factory.SubFactory(IndividualFactory)
    id_type = factory.SubFactory(IdTypeFactory, name="National ID")
    value = factory.Sequence(lambda n: f"{n:010d}")


class PhoneNumberFactory(DjangoModelFactory):
    class Meta:
        model = models.PhoneNumber

    registrant = factory.SubFactory(IndividualFactory)
    phone_no = factory.Sequence(lambda n: f"+2547{n:08d}")
