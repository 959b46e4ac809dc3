package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// @component Order mailer (#mailer) in #k8s [type: process; owner: team-checkout]: sends order confirmations and shipping notices
// @component Amazon SES (#ses) in #internet [type: external]: AWS e-mail service, reached on its public endpoint through the NAT gateway
// @connects #mailer to #ses with order confirmation e-mails over the SES v2 API

type Confirmation struct {
	OrderID int64
	Email   string
}

func runMailer(ctx context.Context, queue <-chan Confirmation, log *slog.Logger) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Error("mailer config", "err", err)
		return
	}
	client := sesv2.NewFromConfig(cfg)
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-queue:
			_, err := client.SendEmail(ctx, &sesv2.SendEmailInput{
				FromEmailAddress: aws.String("orders@shop.example.com"),
				Destination:      &types.Destination{ToAddresses: []string{c.Email}},
				Content: &types.EmailContent{Simple: &types.Message{
					Subject: &types.Content{Data: aws.String(fmt.Sprintf("Your order %d", c.OrderID))},
					Body:    &types.Body{Text: &types.Content{Data: aws.String("Thank you for your order.")}},
				}},
			})
			if err != nil {
				log.Warn("send confirmation", "order", c.OrderID, "err", err)
			}
		}
	}
}
