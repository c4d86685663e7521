"""manage.py simulate: a synthetic marketplace driven through the real delivery, billing and reporting code.

manage.py simulate --days 3 --advertisers 200 --out bench/out        # a marketplace of its own, simulated days
manage.py simulate --live --requests-per-day 300000 --people 100000  # the marketplace in the database, in real time
"""

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from adplatform import money
from delivery import services
from simulation import market as markets
from simulation import report as reports
from simulation.engine import PROFILES, Simulation
from simulation.live import LiveTraffic

DEFAULT_REQUEST_WEIGHT = 5
DEFAULT_START = datetime(2031, 3, 3, tzinfo=UTC)  # a Monday, far from any real data's days
# A platform is never started with every ad group at once: by default the marketplace runs half a
# day before the first measured one, so its first day is paced in a market whose competitors'
# throttles have settled, as any later day is.
DEFAULT_WARMUP_HOURS = 12
DEFAULT_NEWCOMERS = 0.1  # ad groups are added every day: a tenth of the marketplace's first serve on the first day


class Command(BaseCommand):
    help = (
        "Simulate D days of a marketplace of N advertisers on the simulated clock, through the real decision, "
        "tracking, charging, consumer, pacing, rollup and billing code; print a summary against the pacing targets. "
        "With --live: simulated people asking the marketplace in the database for ads, in real time, until stopped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--live",
            action="store_true",
            help="no marketplace of its own and no simulated clock: the existing placements and ads, in real time, "
            "until interrupted (Celery beat does the housekeeping); takes --requests-per-day, --seed, --people, --minutes",
        )
        parser.add_argument(
            "--minutes", type=float, help="with --live: stop after this many minutes (default: run until stopped)"
        )
        parser.add_argument("--days", type=int, default=3)
        parser.add_argument("--advertisers", type=int, default=200)
        parser.add_argument("--requests-per-day", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--draws",
            type=int,
            default=0,
            metavar="N",
            help="another realisation of the seed's marketplace: its visitors', clicks' and auctions' draws from stream N "
            "(0: the seed's own); the advertisers, budgets and traffic curve stay the seed's",
        )
        parser.add_argument("--profile", choices=PROFILES, default="diurnal")
        parser.add_argument("--speed", type=float, default=0.0, help="simulated seconds per real second (0: as fast as it runs)")
        parser.add_argument("--people", type=int, default=20_000)
        parser.add_argument("--start", help="the first simulated UTC day, YYYY-MM-DD (default 2031-03-03; 'now' for real time)")
        parser.add_argument(
            "--budget-range",
            nargs=2,
            metavar=("LOW", "HIGH"),
            default=["1.00", "10000.00"],
            help="daily budgets, log-uniform between LOW and HIGH in the advertiser's currency (default 1.00 10000.00)",
        )
        parser.add_argument(
            "--request-weight",
            type=int,
            default=DEFAULT_REQUEST_WEIGHT,
            metavar="K",
            help="each simulated request stands for K real ones: bids and floors are K times a request's worth",
        )
        parser.add_argument(
            "--time-zones",
            default=",".join(markets.TIME_ZONES),
            help="the advertisers' time zones, drawn from this comma-separated list (repeat one to make it likelier)",
        )
        parser.add_argument(
            "--history-days",
            type=int,
            default=7,
            metavar="H",
            help="days of ad requests counted before the run, for pacing's traffic profile (0: a platform without history)",
        )
        parser.add_argument(
            "--warmup-hours",
            type=int,
            metavar="W",
            help=f"hours the marketplace runs, unmeasured, before the first day (default {DEFAULT_WARMUP_HOURS}, "
            "none with --start now; 0: every ad group starts at the first day's midnight, at once)",
        )
        parser.add_argument(
            "--newcomers",
            type=float,
            default=DEFAULT_NEWCOMERS,
            metavar="SHARE",
            help=f"share of the ad groups that are new: they start serving at their advertiser's first midnight of the run, "
            f"among settled ones, and the report measures their first day apart (default {DEFAULT_NEWCOMERS})",
        )
        parser.add_argument("--out", type=Path, help="write DIR/report.json and DIR/curves.png")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["live"]:
            self._live(options)
            return
        if options["minutes"] is not None:
            raise CommandError("--minutes goes with --live (a batch run lasts --days simulated days).")
        if min(options["days"], options["advertisers"], options["requests_per_day"], options["request_weight"]) < 1:
            raise CommandError("--days, --advertisers, --requests-per-day and --request-weight must be at least 1.")
        if not 0 <= options["history_days"] <= services.PROFILE_DAYS:
            raise CommandError(f"--history-days must be from 0 to {services.PROFILE_DAYS} (pacing learns from a week).")
        if options["warmup_hours"] is None:
            options["warmup_hours"] = 0 if options["start"] == "now" else DEFAULT_WARMUP_HOURS
        if not 0 <= options["warmup_hours"] <= 24:
            raise CommandError("--warmup-hours must be from 0 to 24.")
        if options["draws"] < 0:
            raise CommandError("--draws must be 0 or more.")
        if not 0 <= options["newcomers"] <= 1:
            raise CommandError("--newcomers must be a share from 0 to 1.")
        start = self._start(options["start"])
        budgets = self._budgets(options["budget_range"])
        zones = self._zones(options["time_zones"])
        staff = User.objects.filter(is_staff=True, is_active=True).order_by("pk").first()
        if staff is None:
            staff = User.objects.create_user(email=f"simulator-{options['seed']}@adplatform.test", password=None, is_staff=True)
        rng = random.Random(options["seed"])  # noqa: S311 - a simulation
        run = f"sim{options['seed']}x{rng.getrandbits(24):06x}"
        self.stdout.write(f"building {options['advertisers']} advertisers ({run}) ...")
        market = markets.build(
            run=run,
            advertisers=options["advertisers"],
            people=options["people"],
            rng=rng,
            start=start - timedelta(hours=options["warmup_hours"]),
            staff=staff,
            budgets=budgets,
            request_weight=options["request_weight"],
            time_zones=zones,
        )
        markets.add_newcomers(market, share=options["newcomers"], start=start, rng=random.Random(options["seed"] + 5))  # noqa: S311
        simulation = Simulation(
            market,
            start=start,
            days=options["days"],
            requests_per_day=options["requests_per_day"],
            profile=options["profile"],
            seed=options["seed"],
            draws=options["draws"],
            speed=options["speed"],
            history_days=options["history_days"],
            warmup_hours=options["warmup_hours"],
            progress=self.stdout.write,
        )
        simulation.run()
        arguments = {
            key: options[key]
            for key in (
                "days",
                "advertisers",
                "requests_per_day",
                "request_weight",
                "profile",
                "people",
                "time_zones",
                "history_days",
                "warmup_hours",
                "newcomers",
                "draws",
            )
        }
        arguments["budget_range"] = [money.format_amount(budgets[0]), money.format_amount(budgets[1])]
        report = reports.build(simulation, seed=options["seed"], arguments=arguments)
        report["run_seconds"] = round(simulation.elapsed, 1)
        report["seconds_in"] = {name: round(seconds, 1) for name, seconds in sorted(simulation.timings.items())}
        self.stdout.write(reports.text(report))
        parts = ", ".join(
            f"{name} {seconds:.0f} s" for name, seconds in sorted(simulation.timings.items(), key=lambda item: -item[1])
        )
        self.stdout.write(f"simulated {options['days']} day(s) in {simulation.elapsed:.0f} s ({parts})")
        if options["out"]:
            options["out"].mkdir(parents=True, exist_ok=True)
            (options["out"] / "report.json").write_text(json.dumps(report, indent=2))
            reports.plot(report, options["out"] / "curves.png")
            self.stdout.write(f"wrote {options['out'] / 'report.json'} and {options['out'] / 'curves.png'}")

    def _live(self, options: dict[str, Any]) -> None:
        """Live mode: the marketplace in the database, on the real clock, until interrupted or for --minutes."""
        if min(options["requests_per_day"], options["people"]) < 1:
            raise CommandError("--requests-per-day and --people must be at least 1.")
        if options["minutes"] is not None and options["minutes"] <= 0:
            raise CommandError("--minutes must be above 0.")
        if options["out"]:
            raise CommandError("--out goes with a batch run: the live mode writes no report.")
        LiveTraffic(
            requests_per_day=options["requests_per_day"],
            seed=options["seed"],
            people=options["people"],
            minutes=options["minutes"],
            progress=self.stdout.write,
        ).run()

    @staticmethod
    def _zones(raw: str) -> tuple[str, ...]:
        zones = tuple(name.strip() for name in raw.split(",") if name.strip())
        try:
            for name in zones:
                ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CommandError(f"--time-zones: {exc}") from exc
        if not zones:
            raise CommandError("--time-zones: name at least one time zone, e.g. UTC,Asia/Tokyo.")
        return zones

    @staticmethod
    def _budgets(raw: list[str]) -> tuple[int, int]:
        try:
            low, high = (money.to_micros(value) for value in raw)
        except money.MoneyError as exc:
            raise CommandError("--budget-range: send two amounts such as 1.00 10000.00.") from exc
        if not 0 < low <= high:
            raise CommandError("--budget-range: LOW must be above 0 and at most HIGH.")
        return low, high

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
