from django.db import migrations

from adplatform import schedules

TASKS = (
    ("reporting: roll the event store up", "reporting.tasks.rollup", 60),
    ("reporting: close advertisers' days", "reporting.tasks.close_days", 600),
)


def install(apps, schema_editor):
    for name, task, seconds in TASKS:
        schedules.install_interval(apps, name=name, task=task, every_seconds=seconds, queue="reporting")


def uninstall(apps, schema_editor):
    schedules.uninstall(apps, *(name for name, _, _ in TASKS))


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
