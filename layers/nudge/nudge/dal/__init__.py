"""Data access: the only modules that talk to DynamoDB."""
