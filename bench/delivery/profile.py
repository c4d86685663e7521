"""CPU cost per request of the serving endpoints, in-process through Django's WSGI handler (no gunicorn, no wrk).

    .venv/bin/python -m bench.delivery.profile                 # microseconds per request
    .venv/bin/python -m bench.delivery.profile --cprofile decision

Uses the seeded benchmark marketplace (run `make bench` or `python -m bench.delivery.seed` first).
Each request is a real WSGI call with the full middleware stack, the real index from Redis and
real Redis round trips, so the figures are what one gunicorn thread spends on a request, less
HTTP parsing and the access log. For where the time goes under real load, attach py-spy to the
gunicorn workers while `bench.delivery.run` drives them (see docs/benchmarks.md).
"""

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from collections.abc import Callable
from typing import Any

from . import env, load


def _environ(method: str, path: str, query: str = "", body: bytes = b"", headers: dict[str, str] | None = None) -> dict:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1:8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_USER_AGENT": "Mozilla/5.0 (bench) AppleWebKit/537.36",
    }
    if body:
        environ["CONTENT_TYPE"] = "application/json"
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--cprofile", choices=["bare", "decision", "impression"])
    options = parser.parse_args()
    env.configure()
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    application = WSGIHandler()
    manifest = json.loads((env.OUT / "marketplace.json").read_text())
    import random

    rng = random.Random(3)
    decisions = [load.ad_request(rng, manifest) for _ in range(options.requests)]
    status: list[str] = []

    def start_response(code: str, headers: list[tuple[str, str]], exc_info: Any = None, /) -> Callable[[bytes], object]:
        status.append(code)
        return lambda data: None

    def call(environ: dict) -> bytes:
        return b"".join(application(environ, start_response))

    def bare(n: int) -> None:
        call(_environ("GET", "/healthz/lite"))

    def decision(n: int) -> None:
        key, body = decisions[n % len(decisions)]
        call(_environ("POST", "/serve/v1/decision", body=json.dumps(body).encode(), headers={"X-Placement-Key": key}))

    links: list[str] = []
    for n in range(options.requests):
        key, body = decisions[n]
        body = {**body, "count": 5}
        payload = application(
            _environ("POST", "/serve/v1/decision", body=json.dumps(body).encode(), headers={"X-Placement-Key": key}),
            start_response,
        )
        content = b"".join(payload)
        if content:
            links += [ad["impression_url"].split("?", 1)[1] for ad in json.loads(content)["ads"]]

    def impression(n: int) -> None:
        call(_environ("GET", "/t/v1/i", query=links[n % len(links)]))

    cases: dict[str, Callable[[int], None]] = {"bare": bare, "decision": decision, "impression": impression}
    for name, case in cases.items():
        for n in range(200):
            case(n)  # warm up
        status.clear()
        profiler = cProfile.Profile(time.process_time) if options.cprofile == name else None
        started, cpu_started = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        for n in range(options.requests):
            case(n + 200)
        if profiler:
            profiler.disable()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        codes = {code: status.count(code) for code in set(status)}
        per = 1e6 / options.requests
        print(f"{name:<12} {cpu * per:8.1f} us CPU/request ({elapsed * per:.1f} us wall)  {codes}")
        if profiler:
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
