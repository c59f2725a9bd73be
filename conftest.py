"""Test set-up shared by every app: database, roles and users of each role."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _base_data_in_transactional_tests(request):  # type: ignore[no-untyped-def]
    """Transactional tests flush every table afterwards; give each one the seeded base data.

    (Not ``serialized_rollback``: a flush re-runs the post-migrate role sync, so restoring the
    serialized roles after another transactional test collides with the re-created ones.)"""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    from pbms.seed import ensure_base_data

    ensure_base_data()


@pytest.fixture
def admin_user(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_superuser("root", "root@example.org", "root-pass-123")


def _role_user(django_user_model, username: str, role: str):  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(
        username, f"{username}@example.org", f"{username}-pass-123"
    )
    user.is_staff = True
    user.save()
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def registry_admin(django_user_model):  # type: ignore[no-untyped-def]
    from g2p_registry_base.choices import ROLE_ADMIN

    return _role_user(django_user_model, "regadmin", ROLE_ADMIN)


@pytest.fixture
def registrar(django_user_model):  # type: ignore[no-untyped-def]
    from g2p_registry_base.choices import ROLE_REGISTRAR

    return _role_user(django_user_model, "registrar", ROLE_REGISTRAR)


@pytest.fixture
def viewer(django_user_model):  # type: ignore[no-untyped-def]
    from g2p_registry_base.choices import ROLE_VIEWER

    return _role_user(django_user_model, "viewer", ROLE_VIEWER)
