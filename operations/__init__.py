"""An operator's tools for a stack, deployed or local (not part of the Lambda layer)::

    python -m operations redrive --queue cart_abandoned --stack nudge --dry-run

``operations.redrive`` lists a dead-letter queue's messages and why they are there, and moves them back
to their queue; ``operations.dead_letter_queues`` reads from template.yaml which queue feeds which.
"""
