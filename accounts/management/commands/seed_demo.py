"""manage.py seed_demo: demo data for `make run`, idempotent."""

from typing import Any

from django.core.management.base import BaseCommand

from accounts import demo
from billing import demo as billing_demo
from campaigns import demo as campaigns_demo


class Command(BaseCommand):
    help = "Create the demo users, advertisers, agency, placements and campaigns (safe to run repeatedly)."

    def handle(self, *args: Any, **options: Any) -> None:
        logins = demo.seed()
        for line in campaigns_demo.seed():
            self.stdout.write(line)
        billing_demo.seed()
        self.stdout.write("Demo logins:")
        for login in logins:
            self.stdout.write(f"  {login.email:<24} {login.password}   {login.what}")
