"""cloudkit's AWS provider on boto3."""
