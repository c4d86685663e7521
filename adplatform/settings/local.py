"""Development settings for `make run`: a fixed insecure key and mail printed to the console."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "dev-only-insecure-key-never-use-in-production")

from .base import *  # noqa: F403
