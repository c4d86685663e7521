"""Helpers for data migrations that install Celery beat schedules in django-celery-beat.

Schedules live in the database so staff can see and change them in the admin; each app's
migration adds its own with `install_interval` / `install_crontab` and removes them with
`uninstall` on the way back.
"""

import json
from typing import Any


def install_interval(apps: Any, *, name: str, task: str, every_seconds: int, queue: str) -> None:
    """Run `task` on `queue` every `every_seconds` seconds (created or updated by name)."""
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = interval_model.objects.get_or_create(every=every_seconds, period="seconds")
    task_model.objects.update_or_create(
        name=name,
        defaults={"task": task, "interval": interval, "crontab": None, "queue": queue, "kwargs": json.dumps({}), "enabled": True},
    )


def install_crontab(apps: Any, *, name: str, task: str, queue: str, minute: str = "0", hour: str = "*") -> None:
    """Run `task` on `queue` at `minute` past `hour` (UTC), created or updated by name."""
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = crontab_model.objects.get_or_create(
        minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    task_model.objects.update_or_create(
        name=name,
        defaults={"task": task, "crontab": crontab, "interval": None, "queue": queue, "kwargs": json.dumps({}), "enabled": True},
    )


def uninstall(apps: Any, *names: str) -> None:
    """Remove the named schedules."""
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=names).delete()
