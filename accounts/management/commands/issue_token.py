"""manage.py issue_token EMAIL --scope S [--scope S ...] [--days N] [--name NAME]"""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.models import User


class Command(BaseCommand):
    help = "Create a personal access token for EMAIL and print it as the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument(
            "--scope",
            action="append",
            required=True,
            dest="scopes",
            help=f"Repeat for several: {', '.join(settings.API_SCOPES)}.",
        )
        parser.add_argument("--days", type=int, default=90, help="Days until the token expires (1-365, default 90).")
        parser.add_argument("--name", default="Issued by manage.py issue_token")

    def handle(self, *args: Any, email: str, scopes: list[str], days: int, name: str, **options: Any) -> None:
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No user with e-mail {email}.")
        try:
            token, raw = services.personal_token_create(user=user, name=name, scopes=scopes, days=days)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        expires = token.access_token.expires
        self.stdout.write(
            f"Token {token.name!r} for {user.email}, scopes {token.access_token.scope}, expires {expires:%Y-%m-%d}."
        )
        self.stdout.write(raw)
