from django.db import migrations

from adplatform import schedules

PURGE = "accounts: purge expired Idempotency-Key responses"


def install(apps, schema_editor):
    schedules.install_crontab(apps, name=PURGE, task="accounts.tasks.purge_idempotency_keys", queue="default", minute="17")


def uninstall(apps, schema_editor):
    schedules.uninstall(apps, PURGE)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_personalaccesstoken"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
