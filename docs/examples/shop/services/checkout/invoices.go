package main

import (
	"bytes"
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/jackc/pgx/v5/pgxpool"
)

// @connects #checkout to #invoices with invoice PDFs, PutObject through the IRSA role

type InvoiceStore struct {
	client *s3.Client
	bucket string
}

func MustInvoiceStore(ctx context.Context, bucket string) *InvoiceStore {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		panic(err)
	}
	return &InvoiceStore{client: s3.NewFromConfig(cfg), bucket: bucket}
}

func (s *InvoiceStore) Put(ctx context.Context, orderID int64, pdf []byte) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:               aws.String(s.bucket),
		Key:                  aws.String(fmt.Sprintf("invoices/%d.pdf", orderID)),
		Body:                 bytes.NewReader(pdf),
		ContentType:          aws.String("application/pdf"),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms,
	})
	return err
}

func renderInvoice(ctx context.Context, db *pgxpool.Pool, orderID int64) ([]byte, error) {
	var buf bytes.Buffer
	rows, err := db.Query(ctx,
		`SELECT sku, quantity, price_cents FROM orders.order_lines WHERE order_id = $1 ORDER BY sku`, orderID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var sku string
		var qty int
		var price int64
		if err := rows.Scan(&sku, &qty, &price); err != nil {
			return nil, err
		}
		fmt.Fprintf(&buf, "%s x%d %d.%02d EUR\n", sku, qty, price/100, price%100)
	}
	return buf.Bytes(), rows.Err()
}
