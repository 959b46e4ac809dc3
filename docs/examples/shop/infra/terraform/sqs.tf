# Order events: checkout publishes `order.paid`, catalog consumes it to reserve stock and the
# warehouse export picks it up from there.
#
# @component Order events queue (#order_queue) in #aws [type: store; owner: platform]: SQS queue order-events with a dead-letter queue
# @threat Forged order events (#event_tampering) [stride: S,T; likelihood: unlikely; impact: major; actor: #malicious_insider]: a hand-crafted order.paid message makes catalog reserve stock and the warehouse ship goods nobody paid for
# @exposes #order_queue to #event_tampering with the queue policy lets every principal in the account call SendMessage, not only the checkout role

resource "aws_sqs_queue" "order_events_dlq" {
  name                      = "order-events-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "order_events" {
  name                       = "order-events"
  visibility_timeout_seconds = 60
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.order_events_dlq.arn
    maxReceiveCount     = 5
  })
}

resource "aws_sqs_queue_policy" "order_events" {
  queue_url = aws_sqs_queue.order_events.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountProducers"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = ["sqs:SendMessage"]
        Resource  = aws_sqs_queue.order_events.arn
      },
      {
        Sid       = "CatalogConsumer"
        Effect    = "Allow"
        Principal = { AWS = aws_iam_role.catalog.arn }
        Action    = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
        Resource  = aws_sqs_queue.order_events.arn
      },
    ]
  })
}
