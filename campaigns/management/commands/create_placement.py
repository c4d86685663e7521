"""manage.py create_placement --key KEY --name NAME --formats video,image --floor 0.50"""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from adplatform import money
from campaigns import services


class Command(BaseCommand):
    help = "Create a placement and print its serving API key as the last line (it is stored only as a hash)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--key", required=True, help="What apps send as `placement`, e.g. feed.")
        parser.add_argument("--name", required=True)
        parser.add_argument("--formats", required=True, help="Comma-separated: image,video,text.")
        parser.add_argument("--floor", required=True, help="Floor CPM in US dollars, e.g. 0.50.")

    def handle(self, *args: Any, key: str, name: str, formats: str, floor: str, **options: Any) -> None:
        try:
            floor_micros = money.to_micros(floor)
        except money.MoneyError as exc:
            raise CommandError(f"--floor: {exc}") from exc
        try:
            placement, api_key = services.placement_create(
                key=key.strip(),
                name=name,
                formats=[part.strip() for part in formats.split(",") if part.strip()],
                floor_cpm_usd_micros=floor_micros,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(f"--{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())) from exc
        self.stdout.write(
            f"Created placement {placement.key} ({placement.name}): {', '.join(placement.allowed_formats)}, "
            f"floor {money.format_amount(placement.floor_cpm_usd_micros)} USD CPM. Serving API key:"
        )
        self.stdout.write(api_key)
