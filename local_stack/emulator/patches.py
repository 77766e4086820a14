"""Every patch of moto's and botocore's private internals, in one place, and every private thing of
theirs the local stack relies on (with the two names moto's server imports from other libraries that
are patched for it: jsonpath-ng's ``parse`` and werkzeug's ``run_simple``).

``PRIVATE`` names each one (the owner, the attribute, the parameters we call it or replace it with),
what we do with it and why; tests/tools/test_private_patches.py fails, naming the attribute, when the
installed moto or botocore no longer has one or its parameters changed. ``WRITTEN_AGAINST`` records the
versions the patches were written for: after an upgrade that test says what to look at.

What is patched:

- botocore, for AWS's failure semantics (failures.py): ``BaseClient._make_api_call`` (the one place
  every call passes) and ``Endpoint._send`` (the one place every request is sent) are wrapped once per
  process (``wrap_botocore``); ``observing_api_calls`` wraps ``_make_api_call`` for a block, to record
  the calls made (iam_check.py, tests).
- moto's SQS responses gain ``StartMessageMoveTask`` and ``ListMessageMoveTasks``, which moto lacks
  (``add_sqs_actions``; the actions are moto_message_moves.py).
- moto's threaded server answers one request at a time (``SerialMotoServer``), as does its own-process
  server (moto_server.py), which also takes out per-request costs that do not change what moto answers
  (``speed_up_moto_server``).

Public APIs are used where they are needed, not here: ``moto.mock_aws``, ``ThreadedMotoServer``'s
``start``, ``stop`` and ``get_host_and_port``, moto's ``/moto-api/`` endpoints, botocore's event hooks
(``client.meta.events.register``) and ``botocore.stub``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal
from unittest import mock

import botocore.client
import botocore.endpoint
import jsonpath_ng.ext
import jsonpath_ng.ext.parser
import moto.backends
import moto.core.responses
import moto.core.utils
import moto.server
from moto.core.utils import unix_time, unix_time_millis
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from moto.sqs.models import Message, Queue, SQSBackend
from moto.sqs.responses import SQSResponse
from werkzeug.serving import make_server

WRITTEN_AGAINST = {"moto": "5.2.5", "botocore": "1.44.18", "jsonpath-ng": "1.17.0", "werkzeug": "3.1.9"}
"""The versions these patches were written and last checked against."""

How = Literal["wrapped", "replaced", "added", "overridden", "read"]


@dataclass(frozen=True)
class Private:
    """One private thing of moto's or botocore's the local stack touches."""

    owner: str
    """Where it lives: a module, or a module's class (``botocore.client.BaseClient``)."""
    name: str
    how: How
    """``wrapped`` or ``replaced`` in place (setattr), ``added`` (moto must not have it yet),
    ``overridden`` in a subclass, or only ``read``."""
    why: str
    parameters: tuple[str, ...] = ()
    """A function's or method's parameters we call it with or replace it by: its first ones, in order."""
    exact: bool = False
    """The parameters are all it has (a replacement takes exactly these)."""
    keywords: tuple[str, ...] = ()
    """Parameters we pass by name, wherever they are."""
    kind: Literal["callable", "property", "instance", "value"] = "callable"
    """``instance``: set on each instance (by ``__init__``), not found on the class."""

    @property
    def target(self) -> str:
        return f"{self.owner}.{self.name}"


_SQS = "moto.sqs.models"
PRIVATE: tuple[Private, ...] = (
    # botocore: AWS's failure semantics for the handlers' calls (failures.py).
    Private(
        "botocore.client.BaseClient",
        "_make_api_call",
        "wrapped",
        "every call passes here with its operation and parameters: an invocation past its deadline dies "
        "here, crash points and refusals fire here, calls are recorded (failures.py, iam_check.py)",
        ("self", "operation_name", "api_params"),
        exact=True,
    ),
    Private(
        "botocore.endpoint.Endpoint",
        "_send",
        "wrapped",
        "every HTTP request is sent here: throttled answers, lost answers, recorded and canned answers "
        "(failures.py)",
        ("self", "request"),
        exact=True,
    ),
    Private(
        "botocore.endpoint.Endpoint",
        "_endpoint_prefix",
        "read",
        "the service a request goes to (dynamodb, email), to throttle the right ones (failures.py)",
        kind="instance",
    ),
    # moto's SQS: the dead-letter redrive moto lacks (moto_message_moves.py).
    Private(
        "moto.sqs.responses.SQSResponse",
        "start_message_move_task",
        "added",
        "moto dispatches an action to the method of its snake_case name; moto lacks this one",
    ),
    Private(
        "moto.sqs.responses.SQSResponse",
        "list_message_move_tasks",
        "added",
        "moto dispatches an action to the method of its snake_case name; moto lacks this one",
    ),
    Private(
        "moto.sqs.responses.SQSResponse",
        "sqs_backend",
        "read",
        "the region's SQS backend a request is answered from",
        kind="property",
    ),
    Private(
        "moto.sqs.responses.SQSResponse",
        "_get_param",
        "read",
        "a request parameter by its name",
        ("self", "param_name"),
    ),
    Private("moto.core.responses", "ActionResult", "read", "what an action answers", kind="value"),
    Private(
        "moto.sqs.exceptions",
        "SQSException",
        "read",
        "an SQS error, made of its code and message (its __init__ takes *args: a behaviour test checks it)",
        kind="value",
    ),
    Private(_SQS + ".SQSBackend", "queues", "read", "every queue, to find one by ARN", kind="instance"),
    Private(
        _SQS + ".SQSBackend",
        "list_dead_letter_source_queues",
        "read",
        "a dead-letter queue's source queues",
        ("self", "queue_name"),
    ),
    Private(
        _SQS + ".SQSBackend",
        "send_message",
        "read",
        "a moved message sent to its destination as a new one",
        ("self", "queue_name", "message_body"),
        keywords=("message_attributes", "system_attributes"),
    ),
    Private(_SQS + ".Queue", "queue_arn", "read", "a queue's ARN", kind="instance"),
    Private(_SQS + ".Queue", "name", "read", "a queue's name", kind="instance"),
    Private(
        _SQS + ".Queue",
        "_messages",
        "read",
        "every message on a queue: a moved one is removed; when the next one becomes visible "
        "(moto_endpoint.seconds_until_visible)",
        kind="instance",
    ),
    Private(
        _SQS + ".Queue", "_messages_lock", "read", "held while a moved message is removed", kind="instance"
    ),
    Private(
        _SQS + ".Queue", "pending_messages", "read", "a moved message is no longer in flight", kind="property"
    ),
    Private(_SQS + ".Message", "body", "read", "moved unchanged", kind="instance"),
    Private(_SQS + ".Message", "message_attributes", "read", "moved unchanged", kind="instance"),
    Private(_SQS + ".Message", "system_attributes", "read", "moved unchanged", kind="instance"),
    Private(
        _SQS + ".Message",
        "visible_at",
        "read",
        "when a message in flight can be received again (ms), so a test's clock moves just that far",
        kind="instance",
    ),
    Private(
        _SQS + ".Message",
        "delayed_until",
        "read",
        "when a delayed message can first be received",
        kind="instance",
    ),
    Private(
        _SQS + ".Message",
        "sent_timestamp",
        "read",
        "a message's age, against the retention period",
        kind="instance",
    ),
    Private(_SQS, "sqs_backends", "read", "moto's SQS state in this process", kind="value"),
    Private(
        "moto.ses.models",
        "ses_backends",
        "read",
        "SES's record of sent emails, emptied between tests",
        kind="value",
    ),
    Private("moto.ses.models.SESBackend", "sent_messages", "read", "emptied between tests", kind="instance"),
    Private(
        "moto.core.model_instances",
        "reset_model_data",
        "read",
        "moto's tracked models (what /moto-api/data.json lists) forgotten with the sent emails",
        (),
        exact=True,
    ),
    # moto's threaded server, one request at a time (moto_endpoint.py).
    Private(
        "moto.server.ThreadedMotoServer",
        "_server_entry",
        "overridden",
        "where the thread makes its werkzeug server: ours wraps the app in OneRequestAtATime",
        ("self",),
        exact=True,
    ),
    Private(
        "moto.server.ThreadedMotoServer", "_ip_address", "read", "the address to serve on", kind="instance"
    ),
    Private("moto.server.ThreadedMotoServer", "_port", "read", "the port to serve on", kind="instance"),
    Private(
        "moto.server.ThreadedMotoServer",
        "_server_ready_event",
        "read",
        "set once serving: start() waits for it",
        kind="instance",
    ),
    # moto's own-process server (moto_server.py): per-request costs taken out, one request at a time.
    Private(
        "moto.server",
        "run_simple",
        "wrapped",
        "werkzeug's, as moto.server imported it: the app it serves is wrapped in OneRequestAtATime",
        ("hostname", "port", "application"),
    ),
    Private(
        "moto.backends",
        "list_of_moto_modules",
        "replaced",
        "lists moto's package folder on every request (about 100 stat calls); listed once",
        (),
        exact=True,
    ),
    Private(
        "moto.core.responses",
        "method_names_from_class",
        "replaced",
        "moto.core.utils' function, as moto.core.responses imported it: lists a response class's methods "
        "on every request; cached per class",
        ("clazz",),
        exact=True,
    ),
    Private(
        "jsonpath_ng.ext",
        "parse",
        "replaced",
        "EventBridge (moto.events) imports it at each call and parses 9 paths of every event it delivers "
        "to a queue; cached per path",
        ("path", "debug"),
        exact=True,
    ),
    Private(
        _SQS + ".Queue",
        "messages",
        "replaced",
        "computed every queue attribute per message sent or received; ours reads the clock once per pass",
        kind="property",
    ),
    Private(
        _SQS + ".Queue", "approximate_number_of_messages_delayed", "replaced", "as messages", kind="property"
    ),
    Private(
        _SQS + ".Queue",
        "approximate_number_of_messages_not_visible",
        "replaced",
        "as messages",
        kind="property",
    ),
    Private(_SQS + ".Queue", "approximate_number_of_messages", "replaced", "as messages", kind="property"),
    Private(
        _SQS + ".SQSBackend",
        "is_message_valid_based_on_retention_period",
        "replaced",
        "computed every queue attribute three times to read one constant; ours reads the retention "
        "period directly",
        ("self", "queue_name", "message"),
        exact=True,
    ),
    Private(_SQS + ".SQSBackend", "get_queue", "read", "a queue by name", ("self", "queue_name")),
    Private(
        _SQS + ".Queue", "message_retention_period", "read", "a queue's retention (seconds)", kind="instance"
    ),
)


def private(owner: str, name: str) -> Private:
    return next(p for p in PRIVATE if (p.owner, p.name) == (owner, name))


_originals: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def _replace(owner: Any, owner_name: str, name: str, replacement: Any) -> Any:
    """setattr, keeping the original (once) for ``original``: a test checks moto's, not ours."""
    assert any((p.owner, p.name) == (owner_name, name) for p in PRIVATE), (
        f"{owner_name}.{name} is not in PRIVATE"
    )
    current = getattr(owner, name, None)
    _originals.setdefault((owner_name, name), current)
    setattr(owner, name, replacement)
    return current


def original(entry: Private) -> Any:
    """What moto or botocore has there before any patch of this module (None when it has nothing; an
    ``instance`` attribute is on instances only). Raises ImportError or AttributeError when the owner
    itself is gone."""
    if (entry.owner, entry.name) in _originals:
        return _originals[(entry.owner, entry.name)]
    parts = entry.owner.split(".")
    for split in range(len(parts), 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[split:]:
            owner = getattr(owner, attribute)
        break
    else:
        raise ModuleNotFoundError(entry.owner)
    return inspect.getattr_static(owner, entry.name, None)


# botocore ----------------------------------------------------------------------------------------

MakeApiCall = Callable[[botocore.client.BaseClient, str, dict[str, Any]], Any]
Send = Callable[[botocore.endpoint.Endpoint, Any], Any]


def wrap_botocore(make_api_call: MakeApiCall, send: Send) -> tuple[MakeApiCall, Send]:
    """Every botocore call of this process goes through ``make_api_call``, every request through
    ``send``, from now on (failures.install, once per process); returns botocore's own two."""
    with _lock:
        original_call = _replace(
            botocore.client.BaseClient, "botocore.client.BaseClient", "_make_api_call", make_api_call
        )
        original_send = _replace(botocore.endpoint.Endpoint, "botocore.endpoint.Endpoint", "_send", send)
    return original_call, original_send


def endpoint_prefix(endpoint: botocore.endpoint.Endpoint) -> str:
    """The service a request is sent to (``dynamodb``, ``email``, ...)."""
    return str(getattr(endpoint, "_endpoint_prefix", ""))


@contextmanager
def observing_api_calls(
    observe: Callable[[botocore.client.BaseClient, str, dict[str, Any]], None],
) -> Iterator[None]:
    """``observe(client, operation, params)`` before every botocore call made in the block (by any
    thread), which then goes on as it would have (unless ``observe`` raises)."""
    wrapped = getattr(botocore.client.BaseClient, "_make_api_call")  # noqa: B009 - private to botocore

    def observed(client: botocore.client.BaseClient, operation: str, params: dict[str, Any]) -> Any:
        observe(client, operation, params)
        return wrapped(client, operation, params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", observed):
        yield


# moto's SQS --------------------------------------------------------------------------------------


def add_sqs_actions(**actions: Callable[[SQSResponse], Any]) -> None:
    """Actions moto lacks, by their snake_case names, answered by moto's SQS responses from now on (in
    this process: the threaded server's, ``mock_aws``'s, the own-process server's). Idempotent."""
    for name, action in actions.items():
        _replace(SQSResponse, "moto.sqs.responses.SQSResponse", name, action)


# moto's servers ----------------------------------------------------------------------------------


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


class SerialMotoServer(ThreadedMotoServer):
    """moto's threaded server answering one request at a time: ``_server_entry`` is where moto makes
    its werkzeug server, in the thread ``start`` begins; the rest is moto's."""

    def _server_entry(self) -> None:
        app = OneRequestAtATime(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


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


def speed_up_moto_server() -> None:
    """The own-process server's patches (moto_server.py; never a test's moto): per-request costs that do
    not change what moto answers taken out, and one request at a time. Call before the server starts
    and after ``add_sqs_actions`` (the response classes' method lists are cached from here on)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    replacements: list[tuple[Any, str, str, object]] = [
        (moto.backends, "moto.backends", "list_of_moto_modules", lambda: _MODULES),
        (
            moto.core.responses,
            "moto.core.responses",
            "method_names_from_class",
            cache(moto.core.utils.method_names_from_class),
        ),
        # moto imports it inside the function, at each call: the module's attribute is what it gets.
        (jsonpath_ng.ext, "jsonpath_ng.ext", "parse", cache(jsonpath_ng.ext.parser.parse)),
        (Queue, f"{_SQS}.Queue", "messages", property(_messages)),
        (Queue, f"{_SQS}.Queue", "approximate_number_of_messages_delayed", property(_delayed_count)),
        (Queue, f"{_SQS}.Queue", "approximate_number_of_messages_not_visible", property(_not_visible_count)),
        (
            Queue,
            f"{_SQS}.Queue",
            "approximate_number_of_messages",
            property(lambda queue: len(_messages(queue))),
        ),
        (SQSBackend, f"{_SQS}.SQSBackend", "is_message_valid_based_on_retention_period", _within_retention),
    ]
    for owner, owner_name, name, replacement in replacements:
        _replace(owner, owner_name, name, replacement)
    run_simple = getattr(moto.server, "run_simple")  # noqa: B009 - werkzeug's, as moto.server imported it
    _replace(
        moto.server,
        "moto.server",
        "run_simple",
        lambda host, port, app, **options: run_simple(host, port, OneRequestAtATime(app), **options),
    )
