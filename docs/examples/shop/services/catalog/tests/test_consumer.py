import json

import jsonschema
import pytest

from catalog import consumer


# @tests #event_schema for #catalog
@pytest.mark.parametrize(
    "event",
    [
        {"type": "order.paid", "order_id": "1; DROP TABLE x", "paid_at": "2026-01-01T00:00:00Z"},
        {"type": "order.refunded", "order_id": 1, "paid_at": "2026-01-01T00:00:00Z"},
        {"type": "order.paid", "order_id": 1, "paid_at": "2026-01-01T00:00:00Z", "sku": "X"},
    ],
)
def test_rejects_events_outside_the_schema(event):
    with pytest.raises(jsonschema.ValidationError):
        consumer.handle(conn=None, body=json.dumps(event))
