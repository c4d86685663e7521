"""Configuration: production settings pass Django's deploy checks, secrets fail fast, DEBUG is off by default.

Each test runs Django in a fresh interpreter, so the settings module is imported exactly as a server
would import it, from nothing but the environment given here.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent.parent

# Everything the settings read; none of it may leak in from the shell that runs the tests.
CONFIG_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "SITE_URL",
    "CELERY_BROKER_URL",
    "CELERY_TASK_ALWAYS_EAGER",
    "DEFAULT_FROM_EMAIL",
    "API_THROTTLE_RATE",
    "LOG_LEVEL",
    "TEST_LANE",
    "PYTEST_XDIST_WORKER",
)

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "adplatform.settings.production",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_ALLOWED_HOSTS": "ads.example.com",
    "DATABASE_URL": "postgres://adplatform@db.internal:5432/adplatform",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "EMAIL_URL": "smtp://localhost:25",
}

PRINT_DEBUG = "from django.conf import settings; print(settings.DEBUG)"


def run_django(args: list[str], **variables: str) -> subprocess.CompletedProcess[str]:
    """Run `python <args>` in the repository with a clean environment plus `variables`."""
    inherited = {
        name: value for name, value in os.environ.items() if not name.startswith("DJANGO_") and name not in CONFIG_VARIABLES
    }
    return subprocess.run(  # noqa: S603 - our own interpreter with fixed arguments
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env={**inherited, **variables},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_the_deploy_checks():
    result = run_django(["manage.py", "check", "--deploy"], **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout + result.stderr


def test_deploy_checks_flag_production_without_https_redirect():
    result = run_django(["manage.py", "check", "--deploy"], **PRODUCTION, DJANGO_SECURE_SSL_REDIRECT="false")

    assert "security.W008" in result.stdout + result.stderr


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "EMAIL_URL"])
def test_production_settings_refuse_to_load_without_a_required_variable(missing):
    variables = {name: value for name, value in PRODUCTION.items() if name != missing}

    result = run_django(["-c", "import adplatform.settings.production"], **variables)

    assert result.returncode != 0
    assert f"Set the {missing} environment variable" in result.stderr


@pytest.mark.parametrize(
    "variables",
    [{"DJANGO_SETTINGS_MODULE": "adplatform.settings.local"}, PRODUCTION],
    ids=["local", "production"],
)
def test_debug_is_off_unless_asked_for(variables):
    result = run_django(["-c", PRINT_DEBUG], **variables)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_debug_can_be_switched_on_for_local_development():
    result = run_django(["-c", PRINT_DEBUG], DJANGO_SETTINGS_MODULE="adplatform.settings.local", DJANGO_DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
