"""Where the pacing benchmark keeps its data: its own PostgreSQL database and its own Redis database.

Redis database 9 is one no test lane uses with the suite's default two xdist workers (lanes use
1-2, 4-5, 7-8, 10-11 and 13-14), the delivery benchmark has 15, the reporting benchmark 12 and
`make run` 0, so neither the dev data, a test run nor another benchmark is touched.
"""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

DATABASE_URL = os.environ.get("BENCH_PACING_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/adplatform_bench_pacing")
REDIS_URL = os.environ.get("BENCH_PACING_REDIS_URL", "redis://127.0.0.1:6379/9")
SETTINGS = "adplatform.settings.local"
ROOT = Path(__file__).resolve().parent.parent.parent
OUT = ROOT / "bench" / "out" / "pacing"


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
        "CELERY_TASK_ALWAYS_EAGER": "true",  # ledger signals run in-process: no worker is started
        "DJANGO_DEBUG": "false",  # no query log growing with every statement of a three-day run
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    }


def reset() -> None:
    """Drop and recreate the benchmark database, migrate it, and empty the benchmark's Redis database."""
    import psycopg2
    import redis

    check_isolated()
    parts = urlparse(DATABASE_URL)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(
        host=parts.hostname or "127.0.0.1", port=parts.port or 5432, user=parts.username or "postgres",
        password=parts.password or None, dbname="postgres",
    )  # fmt: skip
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    redis.Redis.from_url(REDIS_URL).flushdb()
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=environment(), check=True)
