"""Where the reporting benchmark keeps its data: its own PostgreSQL database and its own Redis database.

Redis database 12 is one no test lane uses with the suite's default two xdist workers (lanes use
1-2, 4-5, 7-8, 10-11 and 13-14), the delivery benchmark has 15 and `make run` has 0, so neither
the dev data, a test run nor the delivery benchmark is touched.
"""

import os
from pathlib import Path
from urllib.parse import urlparse

DATABASE_URL = os.environ.get("BENCH_REPORTING_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/adplatform_bench_reporting")
REDIS_URL = os.environ.get("BENCH_REPORTING_REDIS_URL", "redis://127.0.0.1:6379/12")
SETTINGS = "adplatform.settings.local"
ROOT = Path(__file__).resolve().parent.parent.parent
OUT = ROOT / "bench" / "out" / "reporting"


def check_isolated() -> None:
    """Refuse to run against anything that is not clearly the benchmark's own."""
    database = urlparse(DATABASE_URL).path.lstrip("/")
    if "bench" not in database:
        raise SystemExit(f"bench: refusing to reset database {database!r}: its name must contain 'bench'")
    if urlparse(REDIS_URL).path.lstrip("/") in ("", "0"):
        raise SystemExit("bench: refusing to flush Redis database 0 (make run's)")


def environment() -> dict[str, str]:
    """The environment for every process of the benchmark (this one and manage.py)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "DJANGO_DEBUG": "false",  # no query log growing with every statement
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    }


def configure() -> None:
    """Point this process at the benchmark's database and Redis, before Django starts."""
    check_isolated()
    os.environ.update(environment())
