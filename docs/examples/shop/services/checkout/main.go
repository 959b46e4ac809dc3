// Command checkout serves the shop's basket, order and payment API.
//
// @component Checkout service (#checkout) in #k8s [type: process; owner: team-checkout]: Go HTTP API for baskets, orders, payments and invoices
// @connects #checkout to #shop_db with SQL over TLS, sslmode=verify-full and IAM auth tokens
// @connects #checkout to #mailer with order confirmations over an in-process channel
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

type Server struct {
	db       *pgxpool.Pool
	payments *Payments
	events   *EventPublisher
	invoices *InvoiceStore
	mail     chan<- Confirmation
	log      *slog.Logger
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	db, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Error("connect database", "err", err)
		os.Exit(1)
	}
	defer db.Close()

	mail := make(chan Confirmation, 256)
	go runMailer(ctx, mail, log)

	s := &Server{
		db:       db,
		payments: NewPayments(os.Getenv("STRIPE_SECRET_KEY"), os.Getenv("STRIPE_WEBHOOK_SECRET")),
		events:   MustEventPublisher(ctx, os.Getenv("ORDER_EVENTS_QUEUE_URL")),
		invoices: MustInvoiceStore(ctx, os.Getenv("INVOICE_BUCKET")),
		mail:     mail,
		log:      log,
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/basket/checkout", s.requireSession(s.handleCheckout))
	mux.HandleFunc("GET /api/orders/{id}", s.requireSession(s.handleGetOrder))
	mux.HandleFunc("POST /webhooks/stripe", s.handleStripeWebhook)

	srv := &http.Server{
		Addr:              ":8080",
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}
