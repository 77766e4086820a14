"""One HTTP/1.1 exchange on a connected socket pair: the request leaves in one send as botocore
prepared it, and the answer is read whole however the server frames it, and however the bytes
arrive; a connection is lent again only when nothing of the answer is left on it."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from nudge.adapters import http_wire
from nudge.adapters.http_wire import Connection, ProtocolError

JSON_ANSWER = b'{"Attributes": {}}'


@pytest.fixture
def pair() -> Iterator[tuple[Connection, socket.socket]]:
    ours, theirs = socket.socketpair()
    ours.settimeout(5)
    theirs.settimeout(5)
    yield Connection(ours, "dynamodb.eu-west-1.amazonaws.com"), theirs
    ours.close()
    theirs.close()


@pytest.fixture(params=["whole", "a byte at a time"])
def receive_size(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each answer is read as it arrives in one segment, and as it arrives a byte at a time (every
    line and length split across reads)."""
    if request.param != "whole":
        monkeypatch.setattr(http_wire, "_RECEIVE_BYTES", 1)
    return str(request.param)


def _post(connection: Connection, body: bytes = b"{}") -> http_wire.Answer:
    headers: dict[str, str | bytes] = {
        "X-Amz-Target": b"DynamoDB_20120810.UpdateItem",
        "Content-Type": b"application/x-amz-json-1.0",
        "Content-Length": str(len(body)).encode(),
    }
    return connection.exchange("POST", "/", headers, body)


def _received(theirs: socket.socket) -> bytes:
    theirs.setblocking(False)
    data = b""
    try:
        while chunk := theirs.recv(65536):
            data += chunk
    except BlockingIOError:
        pass
    theirs.setblocking(True)
    return data


def test_the_request_leaves_as_prepared_with_the_host_botocore_signed(
    pair: tuple[Connection, socket.socket],
) -> None:
    connection, theirs = pair
    theirs.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    _post(connection, b'{"TableName": "Customers"}')
    assert _received(theirs) == (
        b"POST / HTTP/1.1\r\n"
        b"Host: dynamodb.eu-west-1.amazonaws.com\r\n"
        b"X-Amz-Target: DynamoDB_20120810.UpdateItem\r\n"
        b"Content-Type: application/x-amz-json-1.0\r\n"
        b"Content-Length: 26\r\n"
        b"\r\n"
        b'{"TableName": "Customers"}'
    )


def test_a_post_without_a_length_says_its_length(pair: tuple[Connection, socket.socket]) -> None:
    connection, theirs = pair
    theirs.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    connection.exchange("POST", "/schedules/s1", {}, None)
    assert b"\r\nContent-Length: 0\r\n" in _received(theirs)


def test_a_header_value_that_would_split_the_head_is_refused_before_anything_is_sent(
    pair: tuple[Connection, socket.socket],
) -> None:
    connection, theirs = pair
    with pytest.raises(ValueError, match="X-Amz-Target"):
        connection.exchange("POST", "/", {"X-Amz-Target": b"x\r\nInjected: 1"}, b"{}")
    assert _received(theirs) == b""


@pytest.mark.usefixtures("receive_size")
def test_an_answer_with_a_length_is_read_whole_and_the_connection_is_lent_again(
    pair: tuple[Connection, socket.socket],
) -> None:
    connection, theirs = pair
    theirs.sendall(
        b"HTTP/1.1 200 OK\r\nx-amzn-RequestId: r1\r\nContent-Type: application/x-amz-json-1.0\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(JSON_ANSWER), JSON_ANSWER)
    )
    answer = _post(connection)
    assert (answer.status, answer.body) == (200, JSON_ANSWER)
    assert answer.headers["x-amzn-requestid"] == "r1"
    assert connection.reusable


@pytest.mark.usefixtures("receive_size")
def test_a_chunked_answer_is_joined_and_its_trailer_read(pair: tuple[Connection, socket.socket]) -> None:
    connection, theirs = pair
    theirs.sendall(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\n" + JSON_ANSWER[:5] + b"\r\n"
        b"%x\r\n" % (len(JSON_ANSWER) - 5) + JSON_ANSWER[5:] + b"\r\n"
        b"0\r\nx-amz-checksum: abc\r\n\r\n"
    )
    answer = _post(connection)
    assert answer.body == JSON_ANSWER
    assert connection.reusable


@pytest.mark.usefixtures("receive_size")
def test_an_answer_without_a_length_is_read_until_the_server_closes_and_the_connection_is_not_kept(
    pair: tuple[Connection, socket.socket],
) -> None:
    connection, theirs = pair
    theirs.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + JSON_ANSWER)
    theirs.shutdown(socket.SHUT_WR)
    assert _post(connection).body == JSON_ANSWER
    assert not connection.reusable


@pytest.mark.usefixtures("receive_size")
def test_an_interim_continue_is_skipped_for_the_answer_after_it(
    pair: tuple[Connection, socket.socket],
) -> None:
    connection, theirs = pair
    theirs.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    answer = _post(connection)
    assert (answer.status, answer.body) == (200, b"{}")


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}unasked",
    ],
    ids=["connection close", "close among tokens", "HTTP/1.0", "bytes after the answer"],
)
def test_a_connection_the_answer_does_not_leave_clean_is_not_lent_again(
    pair: tuple[Connection, socket.socket], head: bytes
) -> None:
    connection, theirs = pair
    theirs.sendall(head)
    assert _post(connection).body == b"{}"
    assert not connection.reusable


def test_an_answer_without_content_has_none_and_keeps_the_connection(
    pair: tuple[Connection, socket.socket],
) -> None:
    connection, theirs = pair
    theirs.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    answer = _post(connection)
    assert (answer.status, answer.body) == (204, b"")
    assert connection.reusable


def test_a_repeated_header_is_joined_as_urllib3_joins_it(pair: tuple[Connection, socket.socket]) -> None:
    connection, theirs = pair
    theirs.sendall(b"HTTP/1.1 200 OK\r\nVary: Origin\r\nvary: Accept\r\nContent-Length: 0\r\n\r\n")
    assert _post(connection).headers["vary"] == "Origin, Accept"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x status line"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "not an HTTP/1.x status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "not a header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\n{}", "not a Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "not a chunk size"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * (http_wire.MAX_LINE + 1) + b"\r\n\r\n", "a line longer"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * (http_wire.MAX_HEADERS + 1) + b"\r\n", "more than 100"),
    ],
    ids=[
        "not http",
        "status of four digits",
        "header without colon",
        "two lengths",
        "chunk size",
        "long line",
        "many headers",
    ],
)
def test_a_malformed_answer_is_a_protocol_error_naming_what_is_wrong(
    pair: tuple[Connection, socket.socket], answer: bytes, message: str
) -> None:
    connection, theirs = pair
    theirs.sendall(answer)
    with pytest.raises(ProtocolError, match=message):
        _post(connection)
    assert not connection.reusable


@pytest.mark.parametrize(
    "answer",
    [b"", b"HTTP/1.1 200 OK\r\nContent-Len", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}"],
    ids=["nothing", "mid-head", "short body"],
)
def test_a_server_that_closes_before_the_answer_is_whole_is_a_closed_connection(
    pair: tuple[Connection, socket.socket], answer: bytes
) -> None:
    connection, theirs = pair
    theirs.sendall(answer)
    theirs.shutdown(socket.SHUT_WR)
    with pytest.raises(ConnectionError):
        _post(connection)
    assert not connection.reusable
