"""Make sure PostgreSQL and Redis answer at DATABASE_URL / REDIS_URL, and the database exists.

Where a server is installed on this machine but stopped, start it; otherwise stop with a
message naming the two variables. Run by `make setup` with the project's virtualenv.
"""

import glob
import os
import shutil
import subprocess
import sys
import time
from urllib.parse import unquote, urlparse

import psycopg2
import redis
from psycopg2 import sql

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/adplatform"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}
HINT = (
    f"Set DATABASE_URL (default {DEFAULT_DATABASE_URL}) and REDIS_URL (default {DEFAULT_REDIS_URL}) "
    "to servers that answer, or install and start them locally."
)


def fail(message: str) -> None:
    print(f"\nsetup: {message}\nsetup: {HINT}\n", file=sys.stderr)
    sys.exit(1)


def wait_for(check, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return check()


def postgres_params(url: str, dbname: str | None = None) -> dict:
    parts = urlparse(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or "") or None,
        "dbname": dbname or parts.path.lstrip("/") or "postgres",
        "connect_timeout": 3,
    }


def postgres_answers(url: str) -> bool:
    try:
        psycopg2.connect(**postgres_params(url, dbname="postgres")).close()
    except psycopg2.OperationalError:
        return False
    return True


def start_local_postgres() -> bool:
    if not shutil.which("pg_ctlcluster"):
        return False
    for version_dir in sorted(glob.glob("/etc/postgresql/*")):
        version = os.path.basename(version_dir)
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False)
    return True


def ensure_database(url: str) -> None:
    params = postgres_params(url)
    name = params["dbname"]
    connection = psycopg2.connect(**{**params, "dbname": "postgres"})
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"setup: created database {name}")
    connection.close()


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except (redis.RedisError, OSError):
        return False


def start_local_redis(url: str) -> bool:
    if not shutil.which("redis-server"):
        return False
    port = str(urlparse(url).port or 6379)
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no"],
        check=False,
    )
    return True


def main() -> None:
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)

    if not postgres_answers(database_url):
        local = (urlparse(database_url).hostname or "") in LOCAL_HOSTS
        if not (local and start_local_postgres() and wait_for(lambda: postgres_answers(database_url))):
            fail(f"PostgreSQL does not answer at DATABASE_URL={database_url}.")
        print("setup: started the local PostgreSQL server")
    ensure_database(database_url)

    if not redis_answers(redis_url):
        local = (urlparse(redis_url).hostname or "") in LOCAL_HOSTS
        if not (local and start_local_redis(redis_url) and wait_for(lambda: redis_answers(redis_url))):
            fail(f"Redis does not answer at REDIS_URL={redis_url}.")
        print("setup: started the local Redis server")
    print("setup: PostgreSQL and Redis answer")


if __name__ == "__main__":
    main()
