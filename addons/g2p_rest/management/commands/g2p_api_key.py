"""``manage.py g2p_api_key <username> <name>``: make an API key and print it (shown only once)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from addons.g2p_rest.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a user of the REST API and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("name", help="What the key is for, e.g. 'MIS sync'.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        key, raw = api_key_create(user=user, name=options["name"])
        self.stderr.write(f"API key {key.name!r} for {user}; store it now, it is not kept:")
        self.stdout.write(raw)
