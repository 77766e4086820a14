"""moto's server for a process of its own (``running_moto(own_process=True)``): moto.server's main,
with per-request costs taken out that do not change what moto answers.

- moto finds the backend of every request by listing its own package folder (``os.listdir`` and an
  ``isdir`` per entry: about 100 ``stat`` calls a request). The folder does not change while the
  server runs, so it is listed once.
- Every request lists the methods of its response class with ``inspect.getmembers``; a class's
  methods do not change either, so each class is listed once.
- werkzeug logs every request to stderr (which the parent discards) under a lock.
- EventBridge builds a new JSONPath parser (a PLY grammar) for each of 9 paths of every event it
  delivers to a queue; a path's parse does not change, so each is parsed once.
- SQS: every message sent computes all of its queue's attributes (three passes over the queue,
  reading the clock once per message), and every message received does so three times more, to read
  one constant (the retention period). With thousands of win-backs queued that made each send and
  receive cost tens of milliseconds (``make reengagement`` sent 1.5 emails/s). The counts read the
  clock once per pass, and the retention period is read directly.

Together about a third of the server's time for a small request, and a long queue costs a few
microseconds a message per call instead of tens. Only this server is changed: the in-process one the
tests use is moto as it comes, except for what moto lacks and both servers add
(``local_stack.emulator.moto_message_moves``: SQS's dead-letter redrive).
"""

from __future__ import annotations

import logging
import sys
import threading
from functools import cache
from typing import Any

import jsonpath_ng.ext
import jsonpath_ng.ext.parser
import moto.backends
import moto.core.responses
import moto.core.utils
from moto import server
from moto.core.utils import unix_time, unix_time_millis
from moto.sqs.models import Message, Queue, SQSBackend

from local_stack.emulator import moto_message_moves

_MODULES = tuple(moto.backends.list_of_moto_modules())


def _visible(message: Message, now: float) -> bool:
    return now > message.visible_at  # as Message.visible, with the clock read once per pass


def _delayed(message: Message, now: float) -> bool:
    return now < message.delayed_until  # as Message.delayed


def _messages(queue: Queue) -> list[Message]:
    now = unix_time_millis()
    return [m for m in queue._messages if _visible(m, now) and not _delayed(m, now)]


def _delayed_count(queue: Queue) -> int:
    now = unix_time_millis()
    return sum(1 for m in queue._messages if _delayed(m, now))


def _not_visible_count(queue: Queue) -> int:
    now = unix_time_millis()
    return sum(1 for m in queue._messages if not _visible(m, now))


def _within_retention(backend: SQSBackend, queue_name: str, message: Message) -> bool:
    retention_period: Any = backend.get_queue(queue_name).message_retention_period  # type: ignore[attr-defined]
    return bool(retention_period + message.sent_timestamp / 1000 > unix_time())  # type: ignore[operator]


class OneRequestAtATime:
    """moto's backends are plain dicts without locks, and the handlers now call it from several
    threads at once (a batch's records run concurrently): a transaction's deep copy of a table then
    meets another thread's write ("dictionary changed size during iteration"), and a conditional
    write's check and write could interleave with another's. DynamoDB serialises each item's writes;
    here the server answers one request at a time (the GIL allowed no more parallelism anyway)."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> list[bytes]:
        with self._lock:
            return list(self._app(environ, start_response))


def install() -> None:
    """Patch moto in this process (its server's, never a test's); setattr, as these are private."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Before the method lists below are cached: the redrive actions must be among them.
    moto_message_moves.install()
    patches: list[tuple[object, str, object]] = [
        (moto.backends, "list_of_moto_modules", lambda: _MODULES),
        (moto.core.responses, "method_names_from_class", cache(moto.core.utils.method_names_from_class)),
        # moto imports it inside the function, at each call: the module's attribute is what it gets.
        (jsonpath_ng.ext, "parse", cache(jsonpath_ng.ext.parser.parse)),
        (Queue, "messages", property(_messages)),
        (Queue, "approximate_number_of_messages_delayed", property(_delayed_count)),
        (Queue, "approximate_number_of_messages_not_visible", property(_not_visible_count)),
        (Queue, "approximate_number_of_messages", property(lambda queue: len(_messages(queue)))),
        (SQSBackend, "is_message_valid_based_on_retention_period", _within_retention),
    ]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)
    run_simple = getattr(server, "run_simple")  # noqa: B009 - werkzeug's, as moto.server imported it
    setattr(  # noqa: B010 - moto.server's own name for werkzeug's run_simple
        server,
        "run_simple",
        lambda host, port, app, **options: run_simple(host, port, OneRequestAtATime(app), **options),
    )


if __name__ == "__main__":
    install()
    server.main(sys.argv[1:])
