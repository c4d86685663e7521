from django.db import migrations

from campaigns.reference import seed_blocked_terms, seed_interests


def seed(apps, schema_editor):
    seed_interests(apps.get_model("campaigns", "Interest"))
    seed_blocked_terms(apps.get_model("campaigns", "BlockedTerm"))


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
