"""The benchmarks' own places: a Redis database another benchmark run still holds is not emptied under it."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from adplatform.redis_client import get_redis
from bench.isolation import OWNER_KEY, Place


@pytest.fixture
def place() -> Place:
    """A benchmark place on this test worker's own Redis database."""
    return Place("test", "postgres://postgres@127.0.0.1:5432/adplatform_bench_unused", settings.REDIS_URL)


def finished_process() -> int:
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(process.stdout)


def test_an_unclaimed_database_is_emptied_and_claimed(place):
    get_redis().set("left:over", 1)

    place.flush_redis()

    assert get_redis().get("left:over") is None
    assert int(get_redis().get(OWNER_KEY)) == os.getpid()
    place.flush_redis()  # its own run's next profile empties it again
    assert int(get_redis().get(OWNER_KEY)) == os.getpid()


def test_a_database_claimed_by_a_finished_run_is_taken_over(place):
    get_redis().set(OWNER_KEY, finished_process())
    get_redis().set("left:over", 1)

    place.flush_redis()

    assert get_redis().get("left:over") is None
    assert int(get_redis().get(OWNER_KEY)) == os.getpid()


def test_a_database_another_running_benchmark_holds_is_refused_and_left_alone(place):
    get_redis().set(OWNER_KEY, os.getppid())  # a process that is running: the one that started this test
    get_redis().set("its:counter", 7)

    with pytest.raises(SystemExit, match="in use by another benchmark run"):
        place.flush_redis()

    assert get_redis().get("its:counter") == b"7"


def test_database_zero_is_never_emptied():
    with pytest.raises(SystemExit, match="Redis database 0"):
        Place("test", "postgres://postgres@127.0.0.1:5432/adplatform_bench_unused", "redis://127.0.0.1:6379/0").flush_redis()
