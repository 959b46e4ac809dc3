# @component Container registry (#registry) in #aws [type: store; owner: platform]: ECR repositories shop/checkout and shop/catalog
# @threat Image tampering in the registry (#image_tampering) [stride: T; likelihood: unlikely; impact: severe; owner: platform; actor: #malicious_insider]: an image pushed over an existing tag runs in production at the next rollout
# @control Immutable tags and scan on push (#immutable_tags): tags cannot be overwritten; deployments reference the digest; every push is scanned
# @mitigates #registry against #image_tampering with #immutable_tags

resource "aws_ecr_repository" "service" {
  for_each             = toset(["checkout", "catalog"])
  name                 = "shop/${each.key}"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "service" {
  for_each   = aws_ecr_repository.service
  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the last 50 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 50 }
      action       = { type = "expire" }
    }]
  })
}
