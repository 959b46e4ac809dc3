# Invoices: checkout renders a PDF per order and stores it here; customers download them through
# short-lived presigned URLs.
#
# @component Invoice bucket (#invoices) in #aws [type: store; owner: team-checkout]: S3 bucket with PDF invoices: names, postal addresses, order lines
# @threat Invoice bucket made public (#bucket_exposure) [stride: I; likelihood: possible; impact: severe; owner: platform; actor: #uninformed_insider; cwe: 732]: one ACL or bucket-policy edit publishes every customer's invoices
# @control S3 Block Public Access (#block_public_access): all four block-public-access settings on, ACLs disabled with BucketOwnerEnforced
# @control SSE-KMS with a customer managed key (#sse_kms): objects are encrypted with a key only the checkout role may use, so even a public object cannot be read anonymously
# @mitigates #invoices against #bucket_exposure with #block_public_access
# @mitigates #invoices against #bucket_exposure with #sse_kms

resource "aws_s3_bucket" "invoices" {
  bucket = "shop-prod-invoices"
}

resource "aws_s3_bucket_public_access_block" "invoices" {
  bucket                  = aws_s3_bucket.invoices.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "invoices" {
  bucket = aws_s3_bucket.invoices.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_kms_key" "invoices" {
  description         = "shop-prod invoices"
  enable_key_rotation = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "invoices" {
  bucket = aws_s3_bucket.invoices.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.invoices.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "invoices" {
  bucket = aws_s3_bucket.invoices.id
  versioning_configuration {
    status = "Enabled"
  }
}
