package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// @threat SQL injection (#sqli) [stride: T,I; likelihood: likely; impact: severe; owner: appsec; actor: #malicious_outsider; cwe: 89]: a request parameter pasted into SQL reads or rewrites any table of the shared database, orders included
// @control Parameterised queries (#prepared_statements): every query goes through pgx with $n placeholders; no SQL is built from strings
// @mitigates #checkout against #sqli with #prepared_statements

type Order struct {
	ID         int64   `json:"id"`
	CustomerID int64   `json:"-"`
	Status     string  `json:"status"`
	Total      int64   `json:"total_cents"`
	ShipTo     Address `json:"ship_to"`
	Lines      []Line  `json:"lines"`
}

type Address struct {
	Name    string `json:"name"`
	Street  string `json:"street"`
	City    string `json:"city"`
	Postal  string `json:"postal_code"`
	Country string `json:"country"`
}

type Line struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
	Price    int64  `json:"price_cents"`
}

// @threat Order lookup without an ownership check (#idor) [stride: I; likelihood: likely; impact: major; actor: #malicious_outsider; cwe: 639]: any logged-in shopper can walk order ids and read other people's names, addresses and purchases
// @exposes #checkout to #idor with GET /api/orders/{id} loads the order by id and never compares its customer with the session's
func (s *Server) handleGetOrder(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "bad order id", http.StatusBadRequest)
		return
	}
	var o Order
	err = s.db.QueryRow(r.Context(),
		`SELECT id, customer_id, status, total_cents,
		        ship_name, ship_street, ship_city, ship_postal, ship_country
		   FROM orders.orders WHERE id = $1`, id,
	).Scan(&o.ID, &o.CustomerID, &o.Status, &o.Total,
		&o.ShipTo.Name, &o.ShipTo.Street, &o.ShipTo.City, &o.ShipTo.Postal, &o.ShipTo.Country)
	if errors.Is(err, pgx.ErrNoRows) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.log.Error("load order", "order", id, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	// TODO(SHOP-342): 404 unless o.CustomerID == customerFrom(r.Context()).ID
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(o)
}

func (s *Server) handleCheckout(w http.ResponseWriter, r *http.Request) {
	customer := customerFrom(r.Context())
	tx, err := s.db.Begin(r.Context())
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	defer tx.Rollback(r.Context())

	var orderID, total int64
	err = tx.QueryRow(r.Context(),
		`INSERT INTO orders.orders (customer_id, status, total_cents)
		 SELECT $1, 'pending', sum(b.quantity * p.price_cents)
		   FROM orders.basket_items b JOIN catalog.products p ON p.sku = b.sku
		  WHERE b.customer_id = $1
		 RETURNING id, total_cents`, customer.ID,
	).Scan(&orderID, &total)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	intent, err := s.payments.CreateIntent(r.Context(), orderID, total)
	if err != nil {
		http.Error(w, "payment unavailable", http.StatusBadGateway)
		return
	}
	if err := tx.Commit(r.Context()); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"order_id": orderID, "client_secret": intent.ClientSecret})
}
