package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

// @tests #prepared_statements for #checkout
func TestQueriesUsePlaceholders(t *testing.T) {
	concat := regexp.MustCompile(`(Query|QueryRow|Exec)\([^)]*"\s*\+`)
	for _, f := range []string{"orders.go", "payments.go", "session.go", "invoices.go"} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if concat.Match(src) {
			t.Errorf("%s builds SQL by concatenation", f)
		}
	}
}

// @tests #webhook_signature for #checkout
func TestWebhookRejectsBadSignature(t *testing.T) {
	s := &Server{payments: NewPayments("sk_test_x", "whsec_test")}
	body := `{"type":"payment_intent.succeeded","data":{"object":{"metadata":{"order_id":"42"}}}}`
	req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", strings.NewReader(body))
	req.Header.Set("Stripe-Signature", "t=1,v1=forged")
	rec := httptest.NewRecorder()
	s.handleStripeWebhook(rec, req)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("forged webhook accepted: %d", rec.Code)
	}
}

// @review #checkout GET /api/orders/{id} still returns other customers' orders; add a test here with SHOP-342
func TestGetOrderNotFound(t *testing.T) {
	t.Skip("needs a database; runs in the integration suite")
}
