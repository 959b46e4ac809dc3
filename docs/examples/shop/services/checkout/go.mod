module github.com/acme/shop/services/checkout

go 1.23

require (
	github.com/aws/aws-sdk-go-v2 v1.30.3
	github.com/aws/aws-sdk-go-v2/config v1.27.27
	github.com/aws/aws-sdk-go-v2/service/s3 v1.58.2
	github.com/aws/aws-sdk-go-v2/service/sesv2 v1.32.3
	github.com/aws/aws-sdk-go-v2/service/sqs v1.34.3
	github.com/jackc/pgx/v5 v5.6.0
	github.com/stripe/stripe-go/v79 v79.6.0
)
