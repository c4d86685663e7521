"""What every benchmark needs to keep to its own data: its own PostgreSQL database and Redis database.

Each benchmark's `env.py` describes its place (`Place`) and exposes its methods as module
functions. Redis databases in use: `make run` 0, the test lanes 1-2, 4-5, 7-8, 10-11 and 13-14
(two xdist workers each), the pacing benchmark 9, reporting 12, delivery 15.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = "adplatform.settings.local"  # what `make run` serves with
OWNER_KEY = "bench:owner"  # the process id of the benchmark run that last emptied this Redis database


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process, but running
        return True
    return True


@dataclass(frozen=True)
class Place:
    name: str
    database_url: str
    redis_url: str
    debug: str = "false"  # "false": no query log growing with every statement of a long run

    @property
    def out(self) -> Path:
        return ROOT / "bench" / "out" / self.name

    def check_isolated(self) -> None:
        """Refuse to run against anything that is not clearly the benchmark's own."""
        database = urlparse(self.database_url).path.lstrip("/")
        if "bench" not in database:
            raise SystemExit(f"bench: refusing to reset database {database!r}: its name must contain 'bench'")
        if urlparse(self.redis_url).path.lstrip("/") in ("", "0"):
            raise SystemExit("bench: refusing to flush Redis database 0 (make run's)")

    def environment(self) -> dict[str, str]:
        """The environment for every process of the benchmark (this one, gunicorn, manage.py)."""
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CELERY_BROKER_URL": self.redis_url,
            # Signals fired while seeding (ledger movements) run their tasks in-process instead of
            # queueing them for a worker the benchmark does not start.
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "DJANGO_DEBUG": self.debug,
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        }

    def configure(self) -> None:
        """Point this process at the benchmark's database and Redis, before Django starts."""
        self.check_isolated()
        os.environ.update(self.environment())

    def reset_database(self) -> None:
        """Drop and recreate the benchmark's database (empty, not migrated)."""
        import psycopg2

        self.check_isolated()
        parts = urlparse(self.database_url)
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

    def migrate(self) -> None:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=self.environment(), check=True)

    def flush_redis(self) -> None:
        """Empty the benchmark's Redis database, and mark it as this process's.

        Refuses one whose mark names another process that is still running: two runs given the
        same Redis database (two launches at once) would otherwise empty each other's counters
        mid-run, and the survivor's figures would be wrong without a word.
        """
        import redis

        self.check_isolated()
        client = redis.Redis.from_url(self.redis_url)
        owner = client.get(OWNER_KEY)
        if owner is not None and int(owner) != os.getpid() and _running(int(owner)):
            raise SystemExit(
                f"bench: Redis database {self.redis_url} is in use by another benchmark run (process {int(owner)}); "
                "give this run its own (the benchmark's *_REDIS_URL variable)"
            )
        client.flushdb()
        client.set(OWNER_KEY, os.getpid())

    def reset(self) -> None:
        """A fresh, migrated database and an empty Redis database."""
        self.reset_database()
        self.flush_redis()
        self.migrate()
