"""The ledger is append-only: PostgreSQL itself refuses to UPDATE or DELETE a transaction."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION billing_transaction_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'billing_transaction is append-only: % is not allowed; post a correcting transaction', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER billing_transaction_append_only
    BEFORE UPDATE OR DELETE ON billing_transaction
    FOR EACH ROW EXECUTE FUNCTION billing_transaction_is_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS billing_transaction_append_only ON billing_transaction;
DROP FUNCTION IF EXISTS billing_transaction_is_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
