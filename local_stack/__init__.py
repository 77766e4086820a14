"""The local embedded stack: moto on 127.0.0.1 as AWS, resources built from template.yaml, and the
real handlers run in-process by a stand-in for Lambda's SQS event source mapping."""
