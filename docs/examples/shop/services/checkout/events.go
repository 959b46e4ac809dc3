package main

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// @connects #checkout to #order_queue with order.paid events, SQS SendMessage through the IRSA role

type EventPublisher struct {
	client   *sqs.Client
	queueURL string
}

type orderPaid struct {
	Type    string    `json:"type"`
	OrderID int64     `json:"order_id"`
	PaidAt  time.Time `json:"paid_at"`
}

func MustEventPublisher(ctx context.Context, queueURL string) *EventPublisher {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		panic(err)
	}
	return &EventPublisher{client: sqs.NewFromConfig(cfg), queueURL: queueURL}
}

func (p *EventPublisher) OrderPaid(ctx context.Context, orderID int64) error {
	body, err := json.Marshal(orderPaid{Type: "order.paid", OrderID: orderID, PaidAt: time.Now().UTC()})
	if err != nil {
		return err
	}
	_, err = p.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:               aws.String(p.queueURL),
		MessageBody:            aws.String(string(body)),
		MessageDeduplicationId: aws.String(strconv.FormatInt(orderID, 10)),
	})
	return err
}
