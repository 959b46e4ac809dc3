"""Consumes order.paid events and reserves stock for the warehouse export.

@connects #order_queue to #catalog with order.paid events, SQS long polling through the IRSA role
@control Order event schema validation (#event_schema): every message must match the order.paid JSON schema and name an order that exists and is paid in the orders schema
@mitigates #catalog against #event_tampering with #event_schema
"""

import json
import logging
import os

import boto3
import jsonschema
from psycopg import Connection

log = logging.getLogger("catalog.consumer")

ORDER_PAID = {
    "type": "object",
    "required": ["type", "order_id", "paid_at"],
    "properties": {
        "type": {"const": "order.paid"},
        "order_id": {"type": "integer", "minimum": 1},
        "paid_at": {"type": "string", "format": "date-time"},
    },
    "additionalProperties": False,
}


def handle(conn: Connection, body: str) -> None:
    event = json.loads(body)
    jsonschema.validate(event, ORDER_PAID)
    with conn.transaction():
        row = conn.execute(
            "SELECT status FROM orders.orders WHERE id = %s", (event["order_id"],)
        ).fetchone()
        if row is None or row[0] != "paid":
            raise ValueError(f"order {event['order_id']} is not paid")
        conn.execute(
            "UPDATE catalog.products p SET stock = p.stock - l.quantity "
            "FROM orders.order_lines l WHERE l.order_id = %s AND l.sku = p.sku",
            (event["order_id"],),
        )


def run(conn: Connection) -> None:
    sqs = boto3.client("sqs")
    queue_url = os.environ["ORDER_EVENTS_QUEUE_URL"]
    while True:
        resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
        for msg in resp.get("Messages", []):
            try:
                handle(conn, msg["Body"])
            except (ValueError, jsonschema.ValidationError) as exc:
                log.warning("rejecting message %s: %s", msg["MessageId"], exc)
                continue  # redelivered, then dead-lettered after five attempts
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"])
