"""A complete trigger-function environment, as template.yaml sets it, for tests without a stack."""

from __future__ import annotations

TRIGGER_ENVIRONMENT = {
    "CUSTOMERS_TABLE": "customers",
    "SEGMENTS_TABLE": "segments",
    "DELIVERIES_TABLE": "deliveries",
    "SENDER_ADDRESS": "Shop <hello@shop.example>",
    "SES_CONFIGURATION_SET": "marketing",
    "TEMPLATES_DIR": "/opt",
    "STORE_NAME": "Shop",
    "STORE_URL": "https://shop.example",
    "STORE_POSTAL_ADDRESS": "1 Market Street",
    "PREFERENCES_URL": "https://shop.example/prefs",
    "UNSUBSCRIBE_URL": "https://u.lambda-url.us-east-1.on.aws/",
    "UNSUBSCRIBE_KEY_SECRET": "arn:aws:secretsmanager:us-east-1:123456789012:secret:unsubscribe",
    "DEFERRAL_SCHEDULE_GROUP": "nudge-quiet-hours",
    "DEFERRAL_ROLE_ARN": "arn:aws:iam::123456789012:role/nudge-quiet-hours",
    "DEFERRAL_QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:cart-abandoned",
    "DEFERRAL_DLQ_ARN": "arn:aws:sqs:us-east-1:123456789012:cart-abandoned-dlq",
}
