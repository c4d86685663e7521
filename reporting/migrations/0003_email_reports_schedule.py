from django.db import migrations

from adplatform import schedules

NAME = "reporting: e-mail scheduled reports"


def install(apps, schema_editor):
    # Hourly, a few minutes past the hour: each advertiser's reports go out from 06:00 in its own time zone.
    schedules.install_crontab(
        apps, name=NAME, task="reporting.tasks.send_scheduled_reports", queue="reporting", minute="7", hour="*"
    )


def uninstall(apps, schema_editor):
    schedules.uninstall(apps, NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0002_schedules"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
