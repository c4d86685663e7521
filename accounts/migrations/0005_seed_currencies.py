"""The currencies Adplatform bills in, with approximate rates (staff keep them current in admin)."""

from django.db import migrations

from accounts.reference import seed_currencies


def seed(apps, schema_editor):
    seed_currencies(apps.get_model("accounts", "Currency"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_currency")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
