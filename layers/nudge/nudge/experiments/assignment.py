"""Which arm of an experiment a customer is in: a stable hash, never ``random``.

The same customer lands in the same arm on every retry, every step of a series and every function,
and different experiments split customers independently (the experiment id salts the hash). Two
draws, each uniform over 10,000 buckets: one for the holdout, one for the variant by its weight.
"""

from __future__ import annotations

import hashlib

from nudge.experiments.models import Arm, Experiment

BUCKETS = 10_000


def _bucket(*parts: str) -> int:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign(experiment: Experiment, customer_id: str) -> Arm:
    if (
        _bucket(experiment.experiment_id, "holdout", customer_id)
        < experiment.holdout_percent * BUCKETS // 100
    ):
        return Arm(experiment=experiment, variant=None)
    draw = _bucket(experiment.experiment_id, "variant", customer_id)
    upper = 0
    for variant in experiment.variants:
        upper += variant.weight * BUCKETS // 100
        if draw < upper:
            return Arm(experiment=experiment, variant=variant)
    return Arm(experiment=experiment, variant=experiment.variants[-1])  # weights add up to 100
