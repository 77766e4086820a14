"""The emulator: a local AWS built from template.yaml on moto, with the real handlers run in-process.

The bottom room of local_stack; bench, faults and cli build on it, and it imports none of them
(tests/tools/test_local_stack_rooms.py). What is here:

- the stack: template.yaml read and resolved (cfn.py), its resources created in moto (stack.py), the
  local stack's own boto3 clients (clients.py), the translation catalogs compiled (catalogs.py), and a
  stack emptied and seeded again between uses (fresh.py);
- moto as AWS: its server on 127.0.0.1 (moto_endpoint.py, moto_server.py), what moto lacks (SQS's
  message moves: moto_message_moves.py; one-time schedules: one_time_schedules.py; SES's Send event
  and the events SES publishes: ses_send_events.py, ses_events.py), and every patch of moto's or
  botocore's private internals in one place (patches.py);
- Lambda: the handlers run by a stand-in for the SQS event source mapping, the scheduler and function
  URLs (lambda_runtime.py), with AWS's failure semantics (failures.py: an invocation dies at its
  timeout, crash points, throttling, recorded and canned answers), IAM checked as AWS would
  (iam_check.py), and the metrics the handlers print read as CloudWatch reads them (emf.py,
  watched_metrics.py);
- data and runs: the sample events and their expectations (scenario.py), sample and synthetic rows
  (seed.py, synthetic.py, rows.py), events put on the bus and their outcomes (run.py), the scheduled
  re-engagement run (reengagement.py), the emails SES accepted (outbox.py), handler output kept out of
  a tool's own (capture.py).
"""
