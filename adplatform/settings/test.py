"""Settings for `make test`: the real PostgreSQL and Redis, one Redis database per xdist worker."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-insecure-key")

from .base import *  # noqa: F403
from .base import DEFAULT_REDIS_URL, env

# Each pytest-xdist worker ("gw0", "gw1", ...) gets its own Redis database so tests that
# flush Redis never see each other's keys; database 0 stays for `make run`. Several test runs
# can share one machine when each sets its own TEST_LANE (0-4): a lane has its own test
# databases (test_adplatform_lane<N>_gw<K>) and its own three Redis databases.
_worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or "0")
_lane = env.int("TEST_LANE", default=0)
_redis_base = env("REDIS_URL", default=DEFAULT_REDIS_URL).rsplit("/", 1)[0]
REDIS_URL = f"{_redis_base}/{1 + (_lane * 3 + _worker) % 15}"
if _lane:
    DATABASES["default"]["TEST"] = {"NAME": f"test_adplatform_lane{_lane}"}  # noqa: F405
CACHES["default"]["LOCATION"] = REDIS_URL  # noqa: F405
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True  # serve straight from node_modules and the apps: no collectstatic in tests
