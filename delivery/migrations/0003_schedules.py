from django.db import migrations

from adplatform import schedules

TASKS = (
    ("delivery: compile the serveable-ad index", "delivery.tasks.compile_index", 60),
    ("delivery: copy the event stream into PostgreSQL", "delivery.tasks.consume_events", 5),
    ("delivery: post charged cost to the ledger", "delivery.tasks.post_spend", 60),
    ("delivery: rebuild Redis counters if Redis lost them", "delivery.tasks.reconcile_counters", 60),
    ("delivery: create event store partitions", "delivery.tasks.ensure_partitions", 3600),
)


def install(apps, schema_editor):
    for name, task, seconds in TASKS:
        schedules.install_interval(apps, name=name, task=task, every_seconds=seconds, queue="delivery")


def uninstall(apps, schema_editor):
    schedules.uninstall(apps, *(name for name, _, _ in TASKS))


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0002_event_store"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
