package main

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/stripe/stripe-go/v79"
	"github.com/stripe/stripe-go/v79/paymentintent"
	"github.com/stripe/stripe-go/v79/webhook"
)

// @component Stripe (#stripe) in #internet [type: external]: payment processor: Elements in the browser, PaymentIntents API, webhooks
// @connects #checkout to #stripe with PaymentIntents API over HTTPS, secret key from AWS Secrets Manager
// @connects #stripe to #checkout with payment webhooks to /webhooks/stripe
//
// @threat Card data theft (#card_theft) [stride: I; likelihood: possible; impact: severe; owner: team-checkout; actor: #malicious_outsider]: card numbers skimmed from our servers, logs or memory dumps
// @transfers #card_theft from #checkout to #stripe with card numbers never reach our servers; Stripe Elements tokenises them in the browser, which keeps us at PCI DSS SAQ A

type Payments struct {
	webhookSecret string
}

func NewPayments(secretKey, webhookSecret string) *Payments {
	stripe.Key = secretKey
	return &Payments{webhookSecret: webhookSecret}
}

func (p *Payments) CreateIntent(ctx context.Context, orderID, amount int64) (*stripe.PaymentIntent, error) {
	params := &stripe.PaymentIntentParams{
		Amount:   stripe.Int64(amount),
		Currency: stripe.String(string(stripe.CurrencyEUR)),
		Metadata: map[string]string{"order_id": strconv.FormatInt(orderID, 10)},
	}
	params.Context = ctx
	params.SetIdempotencyKey("order-" + strconv.FormatInt(orderID, 10))
	return paymentintent.New(params)
}

// @threat Forged payment webhook (#forged_webhook) [stride: S,T; likelihood: possible; impact: major; owner: team-checkout; actor: #malicious_outsider; cwe: 345]: a POST to /webhooks/stripe claiming payment_intent.succeeded marks an unpaid order as paid
// @control Stripe signature verification (#webhook_signature): the raw body is checked against the Stripe-Signature header with the endpoint secret, with a five-minute tolerance against replays
// @mitigates #checkout against #forged_webhook with #webhook_signature
func (s *Server) handleStripeWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		return
	}
	event, err := webhook.ConstructEvent(body, r.Header.Get("Stripe-Signature"), s.payments.webhookSecret)
	if err != nil {
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	if event.Type != "payment_intent.succeeded" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	orderID, err := strconv.ParseInt(event.GetObjectValue("metadata", "order_id"), 10, 64)
	if err != nil {
		http.Error(w, "no order id", http.StatusBadRequest)
		return
	}
	if err := s.markPaid(r.Context(), orderID); err != nil {
		s.log.Error("mark paid", "order", orderID, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) markPaid(ctx context.Context, orderID int64) error {
	if _, err := s.db.Exec(ctx,
		`UPDATE orders.orders SET status = 'paid', paid_at = now() WHERE id = $1 AND status = 'pending'`,
		orderID); err != nil {
		return err
	}
	if err := s.events.OrderPaid(ctx, orderID); err != nil {
		return err
	}
	pdf, err := renderInvoice(ctx, s.db, orderID)
	if err != nil {
		return err
	}
	if err := s.invoices.Put(ctx, orderID, pdf); err != nil {
		return err
	}
	s.mail <- Confirmation{OrderID: orderID}
	return nil
}
