from django.db import migrations

from adplatform import schedules

NAMES = (
    "billing: low-balance sweep",
    "billing: ledger self-check",
    "billing: issue monthly invoices and statements",
)


def install(apps, schema_editor):
    low, ledger, invoices = NAMES
    schedules.install_crontab(apps, name=low, task="billing.tasks.sweep_low_balances", queue="default", minute="*/15")
    schedules.install_crontab(apps, name=ledger, task="billing.tasks.check_ledger", queue="default", minute="5", hour="3")
    # Hourly: each advertiser's month closes at its own midnight.
    schedules.install_crontab(apps, name=invoices, task="billing.tasks.issue_invoices", queue="default", minute="20")


def uninstall(apps, schema_editor):
    schedules.uninstall(apps, *NAMES)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_append_only_ledger"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
