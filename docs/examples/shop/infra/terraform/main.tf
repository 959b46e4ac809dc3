# Production infrastructure of the shop: one AWS account (shop-prod) with one EKS cluster.
#
# The trust boundaries and threat actors of the whole system are declared here, once; every
# other file refers to them by id.
#
# @boundary Internet (#internet): everything we do not operate: shoppers' browsers, staff at home, Stripe, GitHub, AWS public endpoints
# @boundary AWS account shop-prod (#aws) [owner: platform]: the production account; IAM policies are the perimeter
# @boundary EKS cluster shop-prod (#k8s) in #aws [owner: platform]: the Kubernetes cluster that runs the shop's services
#
# @actor Malicious outsider (#malicious_outsider): anyone on the Internet: bots, fraudsters, opportunistic scanners, a compromised upstream project
# @actor Malicious insider (#malicious_insider): an employee or contractor who abuses access they legitimately have
# @actor Uninformed insider (#uninformed_insider): a well-meaning engineer who misconfigures something under time pressure

terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.40"
    }
  }

  backend "s3" {
    bucket         = "shop-prod-tfstate"
    key            = "shop/terraform.tfstate"
    region         = "eu-west-1"
    dynamodb_table = "shop-prod-tflock"
    encrypt        = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project     = "shop"
      environment = "prod"
      managed-by  = "terraform"
    }
  }
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

data "aws_caller_identity" "current" {}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 5.8"

  name            = "shop-prod"
  cidr            = "10.40.0.0/16"
  azs             = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  private_subnets = ["10.40.0.0/20", "10.40.16.0/20", "10.40.32.0/20"]
  public_subnets  = ["10.40.128.0/24", "10.40.129.0/24", "10.40.130.0/24"]

  enable_nat_gateway = true
  single_nat_gateway = false
}

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 20.8"

  cluster_name    = "shop-prod"
  cluster_version = "1.30"
  vpc_id          = module.vpc.vpc_id
  subnet_ids      = module.vpc.private_subnets

  cluster_endpoint_public_access = true
  enable_irsa                    = true

  eks_managed_node_groups = {
    general = {
      instance_types = ["m6i.large"]
      min_size       = 3
      max_size       = 9
      desired_size   = 3
    }
  }
}
