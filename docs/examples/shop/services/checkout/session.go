package main

import (
	"context"
	"net/http"
	"time"
)

// @threat Session hijacking (#session_hijack) [stride: S; severity: medium; owner: team-checkout; actor: #malicious_outsider; cwe: 614]: a session cookie readable by scripts or sent over plain HTTP lets an attacker check out as the customer
// @control Hardened session cookies (#secure_cookies): __Host- prefix, HttpOnly, Secure, SameSite=Lax, 30-minute idle timeout, rotated at login
// @mitigates #checkout against #session_hijack with #secure_cookies
const sessionCookie = "__Host-shop_session"

const idleTimeout = 30 * time.Minute

type ctxKey struct{}

// Customer is the authenticated shopper of a request.
type Customer struct {
	ID    int64
	Email string
}

func setSessionCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteLaxMode,
		MaxAge:   int(idleTimeout.Seconds()),
	})
}

func (s *Server) requireSession(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		customer, err := s.lookupSession(r.Context(), c.Value)
		if err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		setSessionCookie(w, c.Value) // sliding expiry
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, customer)))
	}
}

func customerFrom(ctx context.Context) Customer {
	c, _ := ctx.Value(ctxKey{}).(Customer)
	return c
}

func (s *Server) lookupSession(ctx context.Context, token string) (Customer, error) {
	var c Customer
	err := s.db.QueryRow(ctx,
		`SELECT c.id, c.email
		   FROM orders.sessions s JOIN orders.customers c ON c.id = s.customer_id
		  WHERE s.token_hash = digest($1, 'sha256') AND s.last_seen > now() - interval '30 minutes'`,
		token,
	).Scan(&c.ID, &c.Email)
	return c, err
}
