"""Demo traffic through the real serving path: decisions, impressions, clicks and conversions over HTTP.

    manage.py demo_traffic --url http://127.0.0.1:8000 --requests 500 --rate 20
    manage.py demo_traffic --rate 1            # forever, one ad request a second (what `make run` does)

It gives every demo placement a fresh serving key and every advertiser a fresh "Demo traffic"
conversion pixel (the old ones stop working), then plays a small population of app users: each
request asks a random placement for ads; every ad returned is seen (its impression link fetched),
some are clicked (the click link, whose redirect carries the click id) and some clicks convert
(reported with the advertiser's pixel key). Everything goes through the same endpoints an app
and an advertiser's site would use, so it is charged, stored and posted like real traffic.
"""

import json
import random
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.core.management.base import BaseCommand, CommandParser

from accounts.models import Advertiser, Membership, Role
from campaigns.models import Placement
from campaigns.services import placement_rotate_key
from delivery import index, services, tracking
from delivery.models import ConversionPixel

BROWSER = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
PIXEL_NAME = "Demo traffic"
COUNTRIES = ["US", "US", "CA", "DE", "DE", "FR", "GB", "NZ"]
LANGUAGES = {"DE": "de", "FR": "fr"}
DEVICES = ["mobile", "mobile", "mobile", "tablet", "desktop"]
OPERATING_SYSTEMS = {"mobile": ["android", "ios"], "tablet": ["android", "ios"], "desktop": ["windows", "macos"]}
INTERESTS = ["gaming", "coffee", "cooking", "baking", "fashion", "sports", "travel", "music", "beauty"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Command(BaseCommand):
    help = "Send demo ad requests, impressions, clicks and conversions through the serving endpoints."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running server")
        parser.add_argument("--requests", type=int, default=0, help="ad requests to send (0: until stopped)")
        parser.add_argument("--rate", type=float, default=1.0, help="ad requests per second (0: as fast as it answers)")
        parser.add_argument("--click-rate", type=float, default=0.04)
        parser.add_argument("--conversion-rate", type=float, default=0.2, help="of clicks")
        parser.add_argument("--people", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        rng = random.Random(options["seed"])  # noqa: S311 - simulated people, not security
        keys = {placement.key: placement_rotate_key(placement=placement) for placement in Placement.objects.all()}
        pixels = self._pixels()
        index.compile_snapshot()
        time.sleep(index.REFRESH_SECONDS + 0.2)  # web processes look for a new snapshot once a second
        people = [self._person(rng, n) for n in range(options["people"])]
        opener = urllib.request.build_opener(_NoRedirect)
        counts: Counter[str] = Counter()
        base = options["url"].rstrip("/")
        sent, started, last_report = 0, time.monotonic(), time.monotonic()
        self.stdout.write(f"demo traffic to {base}: {len(keys)} placements, {len(pixels)} pixels")
        for key, secret in sorted(keys.items()):
            self.stdout.write(f"  placement {key}: serving key {secret}")
        while options["requests"] == 0 or sent < options["requests"]:
            placement = rng.choice(sorted(keys))
            body = {"placement": placement, **rng.choice(people), "count": rng.choice([1, 1, 1, 2, 3])}
            answer = self._call(opener, "POST", f"{base}/serve/v1/decision", body, {"X-Placement-Key": keys[placement]})
            sent += 1
            counts[f"decision {answer[0]}"] += 1
            for ad in (answer[1] or {}).get("ads", []):
                counts[f"impression {self._call(opener, 'GET', ad['impression_url'])[0]}"] += 1
                if rng.random() < options["click_rate"]:
                    status, _, location = self._call(opener, "GET", ad["click_url"])
                    counts[f"click {status}"] += 1
                    click_id = parse_qs(urlsplit(location or "").query).get(tracking.CLICK_ID_PARAMETER, [""])[0]
                    pixel = pixels.get(ad["advertiser_id"])
                    if click_id and pixel and rng.random() < options["conversion_rate"]:
                        conversion = {
                            "click_id": click_id,
                            "event_id": f"demo-{rng.getrandbits(64):x}",
                            "event": "purchase",
                            "value": f"{rng.randint(5, 80)}.{rng.randint(0, 99):02d}",
                        }
                        currency = Advertiser.objects.filter(pk=ad["advertiser_id"]).values_list("currency", flat=True).first()
                        conversion["currency"] = currency or "USD"
                        result = self._call(opener, "POST", f"{base}/t/v1/conversions", conversion, {"X-Pixel-Key": pixel})
                        counts[f"conversion {result[0]}"] += 1
            if time.monotonic() - last_report >= 10:
                last_report = time.monotonic()
                self.stdout.write(f"{sent} requests: " + ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())))
            if options["rate"] > 0:
                time.sleep(max(0.0, started + sent / options["rate"] - time.monotonic()))
        self.stdout.write(f"{sent} requests: " + ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())))

    def _pixels(self) -> dict[int, str]:
        """A fresh demo pixel key per advertiser with an admin (older demo pixels stop working)."""
        ConversionPixel.objects.filter(name=PIXEL_NAME, is_active=True).update(is_active=False)
        pixels = {}
        for membership in Membership.objects.filter(role=Role.ADMIN).select_related("user", "advertiser").order_by("pk"):
            if membership.advertiser_id in pixels:
                continue
            _, raw = services.pixel_create(actor=membership.user, advertiser=membership.advertiser, name=PIXEL_NAME)
            pixels[membership.advertiser_id] = raw
        return pixels

    @staticmethod
    def _person(rng: random.Random, n: int) -> dict[str, Any]:
        device, country = rng.choice(DEVICES), rng.choice(COUNTRIES)
        return {
            "user_id": f"demo-person-{n}",
            "country": country,
            "language": LANGUAGES.get(country, "en"),
            "device": device,
            "os": rng.choice(OPERATING_SYSTEMS[device]),
            "age": rng.randint(18, 60),
            "gender": rng.choice(["female", "male"]),
            "interests": rng.sample(INTERESTS, rng.randint(0, 3)),
        }

    @staticmethod
    def _call(
        opener: urllib.request.OpenerDirector, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, str | None]:
        """(status, parsed JSON body or None, Location header); connection failures wait and count as status 0."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own server
            url, data=data, method=method, headers={"User-Agent": BROWSER, "Content-Type": "application/json", **(headers or {})}
        )
        try:
            with opener.open(request, timeout=10) as response:
                raw = response.read()
                status, location = response.status, response.headers.get("Location")
        except urllib.error.HTTPError as error:
            raw, status, location = error.read(), error.code, error.headers.get("Location")
        except (urllib.error.URLError, OSError):
            time.sleep(1)
            return 0, None, None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return status, parsed, location
