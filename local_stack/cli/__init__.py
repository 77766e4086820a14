"""Command-line tools run on the emulator or on the repository's data, each `python -m
local_stack.cli.<name>` behind a make target:

- demo.py (`make demo`): every sample event through the pipeline, emails into out/outbox/; it checks
  the products each email shows (shown_products.py) and ends with measurement_day.py (`make report`:
  a day of an A/B experiment and its report);
- reengagement.py (`make reengagement`): one scheduled re-engagement run with a progress bar;
- check_emails.py (`make check-emails`): SpamAssassin's score of the demo's emails;
- event_schemas.py (`make schemas`): the JSON Schema of every store event, into events/schemas/;
- recs_eval.py (`make recs-eval`): recommendations measured offline on order history (baskets.py).
"""
