# IAM for the workloads (IRSA) and for the deploy pipeline (GitHub OIDC).

# @threat Over-privileged workload role (#overprivileged_role) [stride: E,I; likelihood: unlikely; impact: major; owner: platform; actor: #malicious_outsider; cwe: 250]: code execution in a pod inherits every permission of its IAM role
# @exposes #checkout to #overprivileged_role with the checkout policy grants s3:* on the invoice bucket; it only needs PutObject and GetObject
resource "aws_iam_policy" "checkout" {
  name = "shop-prod-checkout"

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "Invoices"
        Effect   = "Allow"
        Action   = ["s3:*"]
        Resource = [aws_s3_bucket.invoices.arn, "${aws_s3_bucket.invoices.arn}/*"]
      },
      {
        Sid      = "InvoiceKey"
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource = aws_kms_key.invoices.arn
      },
      {
        Sid      = "OrderEvents"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = aws_sqs_queue.order_events.arn
      },
      {
        Sid      = "Database"
        Effect   = "Allow"
        Action   = ["rds-db:connect"]
        Resource = "arn:aws:rds-db:${var.region}:${data.aws_caller_identity.current.account_id}:dbuser:${aws_db_instance.shop.resource_id}/checkout"
      },
    ]
  })
}

module "checkout_irsa" {
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "~> 5.39"

  role_name        = "shop-prod-checkout"
  role_policy_arns = { checkout = aws_iam_policy.checkout.arn }

  oidc_providers = {
    main = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["shop:checkout"]
    }
  }
}

resource "aws_iam_role" "catalog" {
  name = "shop-prod-catalog"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = module.eks.oidc_provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = { "${module.eks.oidc_provider}:sub" = "system:serviceaccount:shop:catalog" }
      }
    }]
  })
}

# @control GitHub OIDC federation (#oidc): the deploy role trusts token.actions.githubusercontent.com for repo:acme/shop:environment:prod only; no long-lived AWS keys exist anywhere
resource "aws_iam_openid_connect_provider" "github" {
  url             = "https://token.actions.githubusercontent.com"
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1"]
}

resource "aws_iam_role" "deploy" {
  name                 = "shop-prod-deploy"
  max_session_duration = 3600

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = aws_iam_openid_connect_provider.github.arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "token.actions.githubusercontent.com:aud" = "sts.amazonaws.com"
          "token.actions.githubusercontent.com:sub" = "repo:acme/shop:environment:prod"
        }
      }
    }]
  })
}
