"""Orders attributed to the emails that earned them (``nudge.attribution.rules``), exactly once."""
