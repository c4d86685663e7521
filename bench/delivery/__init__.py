"""Delivery benchmarks: a seeded marketplace served by gunicorn and loaded with wrk (see docs/benchmarks.md).

    make bench

runs `python -m bench.delivery.run`, which seeds its own database and Redis database
(`bench.delivery.settings`), never the development data or the test suite's.
"""
