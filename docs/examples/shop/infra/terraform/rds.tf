# The shop's only database. Checkout owns the `orders` schema, catalog the `catalog` schema.
#
# @component Shop database (#shop_db) in #aws [type: store; owner: platform]: RDS PostgreSQL 16, Multi-AZ, one instance with the `orders` and `catalog` schemas
# @threat Database reachable from the Internet (#db_public) [stride: I; likelihood: unlikely; impact: severe; owner: platform; actor: #uninformed_insider; cwe: 284]: a Terraform change sets publicly_accessible or widens the security group, and the customer table is one password away
# @control Private subnets and a security-group allow-list (#db_network_isolation): the instance sits in private subnets; port 5432 admits only the EKS node security group
# @mitigates #shop_db against #db_public with #db_network_isolation

resource "aws_db_subnet_group" "shop" {
  name       = "shop-prod"
  subnet_ids = module.vpc.private_subnets
}

resource "aws_security_group" "db" {
  name   = "shop-prod-db"
  vpc_id = module.vpc.vpc_id

  ingress {
    description     = "PostgreSQL from EKS nodes only"
    from_port       = 5432
    to_port         = 5432
    protocol        = "tcp"
    security_groups = [module.eks.node_security_group_id]
  }
}

resource "aws_kms_key" "rds" {
  description         = "shop-prod RDS storage and Performance Insights"
  enable_key_rotation = true
}

resource "aws_db_instance" "shop" {
  identifier     = "shop-prod"
  engine         = "postgres"
  engine_version = "16.3"
  instance_class = "db.r6g.large"

  allocated_storage     = 100
  max_allocated_storage = 500
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.rds.arn

  db_subnet_group_name   = aws_db_subnet_group.shop.name
  vpc_security_group_ids = [aws_security_group.db.id]
  publicly_accessible    = false

  username                            = "shop_admin"
  manage_master_user_password         = true
  iam_database_authentication_enabled = true

  multi_az                = true
  backup_retention_period = 14
  deletion_protection     = true
  parameter_group_name    = aws_db_parameter_group.shop.name

  enabled_cloudwatch_logs_exports = ["postgresql"]
}

# @threat Silent order tampering by a DBA (#order_tampering) [stride: T,R; likelihood: rare; impact: major; owner: platform; actor: #malicious_insider]: someone with the master password edits totals or issues refunds and leaves no trace in the application logs
# @control pgaudit to CloudWatch Logs (#db_audit_log): pgaudit logs every write and DDL statement; the log group lives in the security account, out of the DBAs' reach
# @mitigates #shop_db against #order_tampering with #db_audit_log
resource "aws_db_parameter_group" "shop" {
  name   = "shop-prod-pg16"
  family = "postgres16"

  parameter {
    name         = "shared_preload_libraries"
    value        = "pgaudit,pg_stat_statements"
    apply_method = "pending-reboot"
  }

  parameter {
    name  = "pgaudit.log"
    value = "write,ddl,role"
  }

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
}

# Disaster recovery: snapshots are copied to eu-central-1; there is no warm standby.
#
# @threat Regional outage takes the database down (#region_outage) [stride: D; likelihood: rare; impact: major; owner: platform]: Multi-AZ survives the loss of a zone, not of eu-west-1
# @accepts #region_outage to #shop_db with single-region Multi-AZ; a restore from the copied snapshots takes about four hours, agreed with the business as the recovery time objective [expires: 2027-12-31; owner: cto; ticket: SHOP-311]
resource "aws_db_instance_automated_backups_replication" "shop" {
  provider               = aws.dr
  source_db_instance_arn = aws_db_instance.shop.arn
  retention_period       = 7
}

provider "aws" {
  alias  = "dr"
  region = "eu-central-1"
}
