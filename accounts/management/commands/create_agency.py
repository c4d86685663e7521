"""manage.py create_agency NAME --owner EMAIL"""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services


class Command(BaseCommand):
    help = "Create an agency whose admin is EMAIL (the user is created, without a password, if missing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The agency's name.")
        parser.add_argument("--owner", required=True, help="E-mail address of the agency's first admin.")

    def handle(self, *args: Any, name: str, owner: str, **options: Any) -> None:
        try:
            agency, user, created = services.agency_create(name=name, owner_email=owner)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"Created agency {agency.name} (id {agency.pk}) with admin {user.email}.")
        if created:
            self.stdout.write(f"Created user {user.email} without a password: set one with the password reset page.")
