"""Records that come back later by design, not because something failed."""

from __future__ import annotations


class ComesBackLaterError(RuntimeError):
    retry_after_seconds: float | None = None
    """When the record should come back; None: the usual back-off for its receive count."""

    """Raised by a record handler when the record cannot be decided yet (what it needs may be just
    behind it): the record comes back with the usual back-off, is logged at INFO and counted as
    ``EventWaiting``, not as ``EmailFailed``; a record still waiting after the queue's receives is
    dead-lettered by SQS like any other."""

    def __init__(self, message: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
