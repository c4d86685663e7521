from django.db import migrations

from adplatform import schedules

NAME = "delivery: pace budgets over the day"


def install(apps, schema_editor):
    schedules.install_interval(apps, name=NAME, task="delivery.tasks.pace", every_seconds=60, queue="delivery")


def uninstall(apps, schema_editor):
    schedules.uninstall(apps, NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0003_schedules"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
