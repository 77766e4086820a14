"""A deployed stack's smoke test (make smoke): one test customer, one cart reminder, its decision and
SES message id, then the customer erased. The steps are in ``smoke.check``; every AWS call is in
``smoke.aws``."""
