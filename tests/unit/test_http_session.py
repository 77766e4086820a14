"""The clients' HTTP session (pooled keep-alive connections, not urllib3) against a real local server:
connections are reused, one the server closed meanwhile is replaced before it carries a request,
failures come back as the botocore exceptions its retry handler knows, TLS is verified, and a proxy
leaves botocore's own session in place."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import _host_from_url  # type: ignore[attr-defined]  # private: what botocore signs
from botocore.awsrequest import AWSPreparedRequest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError, SSLError
from botocore.httpsession import URLLib3Session

from nudge.adapters.http_session import LeanHttpSession, _host_header, install

HANG_SECONDS = 10  # only a guard against a hang

# Real sockets, threads and a certificate made with openssl: make test runs them, not the inner loop.
pytestmark = pytest.mark.slow


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Answering)
        self.connections = 0
        self.release = threading.Event()
        self.closed = threading.Event()

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.closed.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Answering(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/hang":
            self.server.release.wait(HANG_SECONDS)
            return
        answer = self.path.encode() + b" " + body
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("x-amzn-RequestId", "r1")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        if self.path.startswith("/idle-close"):
            self.close_connection = True  # without a Connection: close, as an idle timeout would

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    running = _Server()
    thread = threading.Thread(target=running.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield running
    running.release.set()
    running.shutdown()
    running.server_close()


_opened: list[LeanHttpSession] = []


def _session(read_timeout: float = 5, verify: bool | str = True) -> LeanHttpSession:
    session = LeanHttpSession(URLLib3Session(), connect_timeout=2, read_timeout=read_timeout, verify=verify)
    _opened.append(session)
    return session


@pytest.fixture(autouse=True)
def _close_sessions() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def _post(url: str, body: bytes = b"{}") -> AWSPreparedRequest:
    headers: Any = {"Content-Type": "application/x-amz-json-1.0"}
    return AWSPreparedRequest("POST", url, headers, body, False)


def test_requests_share_one_kept_alive_connection_and_get_their_own_answers(server: _Server) -> None:
    session = _session()
    for n in range(5):
        response = session.send(_post(f"{server.url}/call{n}", b'{"n": %d}' % n))
        assert response.status_code == 200
        assert response.content == b'/call%d {"n": %d}' % (n, n)
        assert response.headers["X-AMZN-REQUESTID"] == "r1"  # case-insensitive, as botocore reads them
    assert server.connections == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_before_it_carries_a_request(
    server: _Server,
) -> None:
    session = _session()
    assert session.send(_post(f"{server.url}/idle-close")).content == b"/idle-close {}"
    assert server.closed.wait(HANG_SECONDS)  # the server has closed it; the client was not told
    assert session.send(_post(f"{server.url}/b")).content == b"/b {}"
    assert server.connections == 2


def test_ten_threads_at_once_each_get_their_own_answer_on_at_most_ten_connections(server: _Server) -> None:
    session = _session()

    def call(n: int) -> bytes:
        return session.send(_post(f"{server.url}/t{n}", str(n).encode())).content

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(call, range(100)))
    assert answers == [b"/t%d %d" % (n, n) for n in range(100)]
    assert server.connections <= 10


def test_an_answer_that_never_comes_is_a_read_timeout_and_the_connection_is_not_reused(
    server: _Server,
) -> None:
    session = _session(read_timeout=0.2)
    with pytest.raises(ReadTimeoutError):
        session.send(_post(f"{server.url}/hang"))
    assert session.send(_post(f"{server.url}/after")).content == b"/after {}"
    assert server.connections == 2


def test_an_endpoint_nobody_listens_on_cannot_be_connected_to() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(EndpointConnectionError):
        _session().send(_post(f"http://127.0.0.1:{port}/"))


@contextmanager
def _answering_once(answer: bytes) -> Iterator[str]:
    """A server that reads one request, writes ``answer`` (maybe nothing) and hangs up: its URL."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def answer_and_hang_up() -> None:
            connection, _ = listener.accept()
            connection.recv(65536)
            connection.sendall(answer)
            connection.close()

        thread = threading.Thread(target=answer_and_hang_up, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
        thread.join(HANG_SECONDS)


def test_a_connection_closed_before_the_answer_is_a_closed_connection() -> None:
    with _answering_once(b"") as url, pytest.raises(ConnectionClosedError):
        _session().send(_post(url))


def test_an_answer_that_is_not_http_is_a_closed_connection_and_the_next_request_connects_anew(
    server: _Server,
) -> None:
    session = _session()
    with _answering_once(b"SSH-2.0-OpenSSH\r\n\r\n") as url, pytest.raises(ConnectionClosedError) as closed:
        session.send(_post(url))
    assert "not an HTTP/1.x status line" in str(closed.value.kwargs["error"])
    assert session.send(_post(f"{server.url}/after")).status_code == 200


@pytest.fixture
def tls_server(server: _Server, tmp_path: Path) -> tuple[str, Path]:
    """The server behind TLS with a certificate of its own for 127.0.0.1, and that certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl to make a certificate")
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(  # noqa: S603 (a fixed command)
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(certificate)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return f"https://127.0.0.1:{server.server_address[1]}", certificate


def test_tls_is_verified_against_the_clients_ca_bundle(tls_server: tuple[str, Path]) -> None:
    url, certificate = tls_server
    assert _session(verify=str(certificate)).send(_post(f"{url}/secure")).content == b"/secure {}"
    with pytest.raises(SSLError):
        _session().send(_post(f"{url}/unknown-issuer"))  # the default bundle does not know it


def _client(**config: Any) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("dynamodb", config=Config(**config))


def test_a_client_sends_with_it_unless_a_proxy_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")  # names hosts without a proxy, no proxy
    plain = _client(connect_timeout=2, read_timeout=3)
    install(plain)
    assert isinstance(plain._endpoint.http_session, LeanHttpSession)
    proxied = _client(proxies={"https": "http://proxy.example:3128"})
    install(proxied)
    assert isinstance(proxied._endpoint.http_session, URLLib3Session)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    from_environment = _client()
    install(from_environment)
    assert isinstance(from_environment._endpoint.http_session, URLLib3Session)


@pytest.mark.parametrize(
    "url",
    [
        "https://dynamodb.eu-west-1.amazonaws.com/",
        "https://dynamodb.eu-west-1.amazonaws.com:443/",
        "http://127.0.0.1:4566/",
        "http://LOCALHOST:80/",
        "https://[::1]:8443/",
        "https://[::1]/",
    ],
)
def test_the_host_sent_is_the_host_botocore_signed(url: str) -> None:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    assert _host_header(parts.scheme, parts.hostname or "", port) == _host_from_url(url)
