"""The event store: an append-only table partitioned by day, with a default partition for stragglers."""

from django.db import migrations

FORWARD = """
CREATE SEQUENCE delivery_event_seq;
CREATE TABLE delivery_event (
    occurred_at timestamptz NOT NULL,
    event_id uuid NOT NULL,
    seq bigint NOT NULL DEFAULT nextval('delivery_event_seq'),
    kind varchar(12) NOT NULL,
    status varchar(10) NOT NULL,
    reason varchar(40) NOT NULL DEFAULT '',
    request_id uuid,
    ad_id bigint,
    ad_group_id bigint,
    campaign_id bigint,
    advertiser_id bigint NOT NULL,
    placement varchar(50) NOT NULL DEFAULT '',
    country varchar(2) NOT NULL DEFAULT '',
    device varchar(15) NOT NULL DEFAULT '',
    user_key varchar(32) NOT NULL DEFAULT '',
    billed_on varchar(10) NOT NULL DEFAULT '',
    price_micros bigint NOT NULL DEFAULT 0,
    cost_micros bigint NOT NULL DEFAULT 0,
    value_micros bigint NOT NULL DEFAULT 0,
    currency varchar(3) NOT NULL DEFAULT '',
    event_name varchar(50) NOT NULL DEFAULT '',
    PRIMARY KEY (occurred_at, event_id),
    CONSTRAINT delivery_event_cost_nonnegative CHECK (cost_micros >= 0),
    CONSTRAINT delivery_event_only_valid_is_charged CHECK (status = 'valid' OR cost_micros = 0)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX delivery_event_seq_idx ON delivery_event (seq);
CREATE INDEX delivery_event_advertiser_idx ON delivery_event (advertiser_id, occurred_at);
CREATE TABLE delivery_event_default PARTITION OF delivery_event DEFAULT;
"""

BACKWARD = """
DROP TABLE IF EXISTS delivery_event;
DROP SEQUENCE IF EXISTS delivery_event_seq;
"""


class Migration(migrations.Migration):
    dependencies = [("delivery", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
