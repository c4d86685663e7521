"""manage.py simulate: a synthetic marketplace driven through the real delivery, billing and reporting code."""

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from simulation import market as markets
from simulation import report as reports
from simulation.engine import PROFILES, Simulation

DEFAULT_START = datetime(2031, 3, 3, tzinfo=UTC)  # a Monday, far from any real data's days


class Command(BaseCommand):
    help = (
        "Simulate D days of a marketplace of N advertisers on the simulated clock, through the real decision, "
        "tracking, charging, consumer, pacing, rollup and billing code; print a summary against the pacing targets."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=3)
        parser.add_argument("--advertisers", type=int, default=200)
        parser.add_argument("--requests-per-day", type=int, default=50_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--profile", choices=PROFILES, default="diurnal")
        parser.add_argument("--speed", type=float, default=0.0, help="simulated seconds per real second (0: as fast as it runs)")
        parser.add_argument("--people", type=int, default=20_000)
        parser.add_argument("--start", help="the first simulated UTC day, YYYY-MM-DD (default 2031-03-03; 'now' for real time)")
        parser.add_argument("--out", type=Path, help="write DIR/report.json and DIR/curves.png")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] < 1 or options["advertisers"] < 1 or options["requests_per_day"] < 1:
            raise CommandError("--days, --advertisers and --requests-per-day must be at least 1.")
        start = self._start(options["start"])
        staff = User.objects.filter(is_staff=True, is_active=True).order_by("pk").first()
        if staff is None:
            staff = User.objects.create_user(email=f"simulator-{options['seed']}@adplatform.test", password=None, is_staff=True)
        rng = random.Random(options["seed"])  # noqa: S311 - a simulation
        run = f"sim{options['seed']}x{rng.getrandbits(24):06x}"
        self.stdout.write(f"building {options['advertisers']} advertisers ({run}) ...")
        market = markets.build(
            run=run, advertisers=options["advertisers"], people=options["people"], rng=rng, start=start, staff=staff
        )
        simulation = Simulation(
            market,
            start=start,
            days=options["days"],
            requests_per_day=options["requests_per_day"],
            profile=options["profile"],
            seed=options["seed"],
            speed=options["speed"],
            progress=self.stdout.write,
        )
        simulation.run()
        arguments = {key: options[key] for key in ("days", "advertisers", "requests_per_day", "profile", "people")}
        report = reports.build(simulation, seed=options["seed"], arguments=arguments)
        self.stdout.write(reports.text(report))
        if options["out"]:
            options["out"].mkdir(parents=True, exist_ok=True)
            (options["out"] / "report.json").write_text(json.dumps(report, indent=2))
            reports.plot(report, options["out"] / "curves.png")
            self.stdout.write(f"wrote {options['out'] / 'report.json'} and {options['out'] / 'curves.png'}")

    @staticmethod
    def _start(raw: str | None) -> datetime:
        if raw is None:
            return DEFAULT_START
        if raw == "now":
            now = datetime.now(tz=UTC)
            return now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        try:
            return datetime.fromisoformat(raw).replace(tzinfo=UTC)
        except ValueError as exc:
            raise CommandError("--start: send YYYY-MM-DD or 'now'.") from exc
