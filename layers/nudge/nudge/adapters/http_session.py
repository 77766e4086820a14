"""The HTTP session the clients send with: pooled keep-alive connections, without urllib3.

botocore sends each request through urllib3 (``botocore.httpsession.URLLib3Session``): a pool
manager, a proxy lookup, header validation and a response wrapper around ``http.client``'s own,
which itself writes a request in two sends and parses each answer's head with the ``email``
package. For the send path's small JSON requests, six an email, that is most of what a call costs
on the wire (`make bench`). This session writes the same prepared request, signed by botocore as
before, in one send on a pooled keep-alive connection (``http_wire``), and gives botocore back the
response it expects. Everything above the wire (serialising, signing, retries, parsing, botocore's
events) is botocore's, unchanged.

What it keeps of botocore's session:

- the client's connect and read timeouts, and TCP_NODELAY;
- TLS verified against the CA bundle botocore would use (``AWS_CA_BUNDLE``, else its default), with
  the host name checked;
- an idle connection the server has closed meanwhile (AWS closes idle connections; Lambda freezes
  a container between invocations) is noticed before it is reused and replaced, as urllib3 does;
- failures as botocore's own exceptions, so its retry handler decides as before: a connect timeout,
  a refused or unresolvable endpoint, a read timeout, a connection closed mid-answer. Nothing is
  retried here (botocore tells urllib3 the same): SendEmail makes one attempt only.

Where it cannot do what botocore's session does, botocore's session is kept: a proxy configured for
the client or in the environment, a streamed response, a body that is a stream, ``Expect``.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    SSLError,
)
from botocore.httpsession import URLLib3Session, get_cert_path

from nudge.adapters.http_wire import Connection, ProtocolError

if TYPE_CHECKING:
    from botocore.compat import HTTPHeaders

USE_BOTOCORE_HTTP = "NUDGE_BOTOCORE_HTTP"
"""Set to ``true``, the clients send with botocore's own session (urllib3), as before this one."""

MAX_IDLE_CONNECTIONS = 10
"""Idle connections kept per endpoint: a batch's ten records each hold one while they call."""

_Endpoint = tuple[str, str, int]


class _Body:
    """The whole answer, read: what ``AWSResponse.content`` reads from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


class LeanHttpSession:
    """botocore's HTTP session interface (``send``, ``close``), on pooled ``http_wire`` connections;
    what it does not handle goes to ``fallback`` (botocore's own session of the same client)."""

    def __init__(
        self, fallback: Any, *, connect_timeout: float, read_timeout: float, verify: bool | str = True
    ) -> None:
        self._fallback = fallback
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._verify = verify
        self._tls: ssl.SSLContext | None = None
        self._idle: dict[_Endpoint, list[Connection]] = {}
        self._lock = threading.Lock()

    def send(self, request: AWSPreparedRequest) -> AWSResponse:
        if not _plain(request):
            response: AWSResponse = self._fallback.send(request)
            return response
        parts = urlsplit(request.url)
        scheme = parts.scheme
        endpoint = (scheme, parts.hostname or "", parts.port or (443 if scheme == "https" else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        body = cast("bytes | str | None", request.body)  # what _plain lets through
        if isinstance(body, str):
            body = body.encode("utf-8")
        connection = self._idle_connection(endpoint) or self._connect(endpoint, request.url)
        try:
            answer = connection.exchange(request.method, target, dict(request.headers.items()), body)
        except TimeoutError as error:
            connection.close()
            raise ReadTimeoutError(endpoint_url=request.url, error=error) from error
        except ssl.SSLError as error:
            connection.close()
            raise SSLError(endpoint_url=request.url, error=error) from error
        except (OSError, ProtocolError) as error:
            connection.close()
            raise ConnectionClosedError(endpoint_url=request.url, error=error) from error
        except BaseException:
            connection.close()
            raise
        if connection.reusable:
            self._keep(endpoint, connection)
        else:
            connection.close()
        # AWSResponse reads the headers into its own case-insensitive dict: any mapping will do.
        headers = cast("HTTPHeaders", answer.headers)
        return AWSResponse(request.url, answer.status, headers, _Body(answer.body))

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()
        self._fallback.close()

    def _idle_connection(self, endpoint: _Endpoint) -> Connection | None:
        """The most recently used idle connection that is still open, if any."""
        while True:
            with self._lock:
                connections = self._idle.get(endpoint)
                connection = connections.pop() if connections else None
            if connection is None or not _dropped(connection):
                return connection
            connection.close()

    def _keep(self, endpoint: _Endpoint, connection: Connection) -> None:
        with self._lock:
            connections = self._idle.setdefault(endpoint, [])
            if len(connections) < MAX_IDLE_CONNECTIONS:
                connections.append(connection)
                return
        connection.close()

    def _connect(self, endpoint: _Endpoint, url: str) -> Connection:
        scheme, host, port = endpoint
        sock: socket.socket | None = None
        try:
            sock = socket.create_connection((host, port), timeout=self._connect_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                sock = self._tls_context().wrap_socket(sock, server_hostname=host)
        except TimeoutError as error:
            _close(sock)
            raise ConnectTimeoutError(endpoint_url=url, error=error) from error
        except ssl.SSLError as error:
            _close(sock)
            raise SSLError(endpoint_url=url, error=error) from error
        except OSError as error:
            _close(sock)
            raise EndpointConnectionError(endpoint_url=url, error=error) from error
        sock.settimeout(self._read_timeout)
        return Connection(sock, _host_header(scheme, host, port))

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            if self._verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                context = ssl.create_default_context(cafile=get_cert_path(self._verify))  # type: ignore[arg-type]
            self._tls = context
        return self._tls


def _plain(request: AWSPreparedRequest) -> bool:
    """A request this session sends itself: a whole body, a whole answer, no ``Expect``."""
    return (
        not request.stream_output
        and isinstance(request.body, bytes | str | None)
        and "Expect" not in request.headers
    )


def _dropped(connection: Connection) -> bool:
    """Whether an idle connection was closed by the other end (it is readable: end of file, or
    bytes nobody asked for), so it must not carry a request."""
    sock = connection.sock
    try:
        if hasattr(select, "poll"):  # no limit on the descriptor's number, unlike select()
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _close(sock: socket.socket | None) -> None:
    if sock is not None:
        sock.close()


def _host_header(scheme: str, host: str, port: int) -> str:
    """The Host botocore signed (``botocore.auth._host_from_url``): the port only if not the
    scheme's default, an IPv6 address in brackets."""
    name = f"[{host}]" if ":" in host else host
    return name if port == {"http": 80, "https": 443}.get(scheme) else f"{name}:{port}"


def install(client: Any) -> None:
    """Send ``client``'s requests with a ``LeanHttpSession``, unless a proxy is configured (for the
    client, or in the environment) or the client's session is not botocore's usual one."""
    endpoint = getattr(client, "_endpoint", None)
    original = getattr(endpoint, "http_session", None)
    if not isinstance(original, URLLib3Session) or os.environ.get(USE_BOTOCORE_HTTP) == "true":
        return
    config = client.meta.config
    # NO_PROXY alone names no proxy: only a proxy for a scheme (or for all) keeps botocore's session.
    if config.proxies or {"http", "https", "all"} & urllib.request.getproxies().keys():
        return
    endpoint.http_session = LeanHttpSession(  # type: ignore[union-attr]
        original,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        verify=getattr(original, "_verify", True),
    )
