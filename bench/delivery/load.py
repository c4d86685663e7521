"""Ad requests for the load generator: a fixed, seeded mix of placements, people and devices."""

import json
import random
from pathlib import Path
from typing import Any

# Traffic is not spread evenly over placements: the feeds carry most of it.
PLACEMENT_WEIGHTS = {"feed": 20, "stories": 10, "news-feed": 8, "reels": 6, "explore": 6, "search-top": 5, "video-preroll": 5}
DEVICE_WEIGHTS = {"mobile": 60, "desktop": 25, "tablet": 10, "connected_tv": 5}
OS_FOR_DEVICE = {
    "mobile": ["android", "android", "ios"],
    "tablet": ["ios", "android"],
    "desktop": ["windows", "windows", "macos", "linux"],
    "connected_tv": ["android", "linux"],
}


def ad_request(rng: random.Random, manifest: dict[str, Any], *, count: int | None = None) -> tuple[str, dict[str, Any]]:
    """One (serving key, body) pair; `count` forces how many ads are asked for."""
    keys = list(manifest["placements"])
    placement = rng.choices(keys, weights=[PLACEMENT_WEIGHTS.get(key, 3) for key in keys])[0]
    body: dict[str, Any] = {"placement": placement, "user_id": f"u{rng.randrange(200_000)}"}
    if rng.random() < 0.97:
        if rng.random() < 0.05:
            body["country"] = rng.choice(manifest["request_only_countries"])
        else:
            countries = manifest["countries"]
            body["country"] = rng.choices(list(countries), weights=list(countries.values()))[0]
    if rng.random() < 0.6:
        body["language"] = rng.choice(manifest["languages"])
    if rng.random() < 0.9:
        device = rng.choices(list(DEVICE_WEIGHTS), weights=list(DEVICE_WEIGHTS.values()))[0]
        body["device"] = device
        if rng.random() < 0.8:
            body["os"] = rng.choice(OS_FOR_DEVICE[device])
    if rng.random() < 0.6:
        body["age"] = rng.randint(16, 70)
    if rng.random() < 0.5:
        body["gender"] = rng.choice(["female", "male"])
    if rng.random() < 0.6:
        body["interests"] = rng.sample(manifest["interests"], rng.randint(1, 4))
    wanted = count if count is not None else rng.choices([1, 2, 3], weights=[85, 10, 5])[0]
    if wanted != 1:
        body["count"] = wanted
    return manifest["placements"][placement], body


def write_requests(path: Path, manifest: dict[str, Any], *, number: int, seed: int, count: int | None = None) -> None:
    """`number` requests, one "<serving key>\\t<json body>" per line, for bench/delivery/wrk/decision.lua."""
    rng = random.Random(seed)
    with path.open("w") as file:
        for _ in range(number):
            key, body = ad_request(rng, manifest, count=count)
            file.write(f"{key}\t{json.dumps(body, separators=(',', ':'))}\n")
