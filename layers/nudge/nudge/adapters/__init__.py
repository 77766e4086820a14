"""Every AWS call that is not DynamoDB: SES, EventBridge Scheduler, SQS, EventBridge, Secrets Manager.

With ``nudge.dal`` (DynamoDB) this is the whole answer to "where do we call AWS": nothing else in the
layer imports boto3 or a client. ``clients`` makes the clients, lazily and cached, for both.
"""
