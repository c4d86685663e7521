"""Where the pacing benchmark keeps its data (see bench/isolation.py): its own database and Redis database."""

import os

from bench.isolation import ROOT, SETTINGS, Place

PLACE = Place(
    "pacing",
    os.environ.get("BENCH_PACING_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/adplatform_bench_pacing"),
    os.environ.get("BENCH_PACING_REDIS_URL", "redis://127.0.0.1:6379/9"),
    debug="false",
)
DATABASE_URL, REDIS_URL, OUT = PLACE.database_url, PLACE.redis_url, PLACE.out
check_isolated, environment, configure, reset = PLACE.check_isolated, PLACE.environment, PLACE.configure, PLACE.reset

__all__ = ["DATABASE_URL", "OUT", "REDIS_URL", "ROOT", "SETTINGS", "check_isolated", "configure", "environment", "reset"]
