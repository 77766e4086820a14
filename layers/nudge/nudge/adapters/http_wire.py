"""One HTTP/1.1 connection: a request written in one send, its answer read whole (RFC 9112).

``http.client`` writes the head and the body in two sends, validates each header with a regular
expression, makes a buffered file per answer and parses the answer's head with the ``email``
package; for a small JSON call that is most of the CPU a call spends on the wire. The clients'
requests are already well formed (botocore built and signed them), so this writes them as they are
and reads the answer with one buffer per connection.

The answer's length follows RFC 9112 section 6.3: none for HEAD, 1xx, 204 and 304; chunked
transfer coding; ``Content-Length``; else until the server closes. Interim 1xx answers are skipped.
A connection is kept for the next request only when HTTP/1.1, not ``Connection: close``, framed by
length or chunks, and nothing was left unread. A malformed answer, or one over the limits below
(those of ``http.client``), raises ``ProtocolError``; a closed connection raises ``ConnectionError``.
"""

from __future__ import annotations

import socket

MAX_LINE = 65536
"""Longest status, header or chunk-size line read, as ``http.client``'s ``_MAXLINE``."""

MAX_HEADERS = 100
"""Most header lines in an answer, as ``http.client``'s ``_MAXHEADERS``."""

_RECEIVE_BYTES = 65536
_NO_BODY_STATUSES = frozenset({204, 304})


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.x as this connection reads it."""


class Answer:
    """A whole answer: status, headers by lower-case name (a repeated name's values joined with
    ", ", as urllib3 joins them) and body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class Connection:
    """An open connection to one endpoint; not safe for two threads at once (the pool lends it)."""

    def __init__(self, sock: socket.socket, host: str) -> None:
        self.sock = sock
        self._host = host
        self._buffer = bytearray()
        self.reusable = True

    def exchange(
        self, method: str, target: str, headers: dict[str, str | bytes], body: bytes | None
    ) -> Answer:
        """Send one request and read its whole answer; ``reusable`` then says whether the
        connection can carry another."""
        self.reusable = False  # until the answer has been read whole and allows it
        self.sock.sendall(self._request(method, target, headers, body))
        status, version = self._status_line()
        while 100 <= status < 200 and status != 101:  # interim answers (100 Continue, 103 Early Hints)
            self._header_lines()
            status, version = self._status_line()
        answer_headers = self._header_lines()
        connection_tokens = {t.strip().lower() for t in answer_headers.get("connection", "").split(",")}
        keep = version == "HTTP/1.1" and "close" not in connection_tokens
        if method == "HEAD" or status < 200 or status in _NO_BODY_STATUSES:
            content = b""
        elif "chunked" in answer_headers.get("transfer-encoding", "").lower():
            content = self._chunked()
        elif "content-length" in answer_headers:
            content = self._exactly(_length(answer_headers["content-length"]))
        else:
            content, keep = self._until_closed(), False
        self.reusable = keep and not self._buffer
        return Answer(status, answer_headers, content)

    def close(self) -> None:
        self.reusable = False
        self.sock.close()

    def _request(
        self, method: str, target: str, headers: dict[str, str | bytes], body: bytes | None
    ) -> bytes:
        lines = [f"{method} {target} HTTP/1.1".encode("latin-1")]
        names = {name.lower() for name in headers}
        if "host" not in names:
            lines.append(b"Host: " + self._host.encode("idna"))
        if "content-length" not in names and (body or method in ("POST", "PUT", "PATCH")):
            lines.append(b"Content-Length: %d" % len(body or b""))
        for name, value in headers.items():
            # botocore encodes its header values to UTF-8 bytes; a str is sent as http.client sends it.
            raw = value if isinstance(value, bytes) else value.encode("latin-1")
            if b"\n" in raw or b"\r" in raw or ":" in name or "\n" in name or "\r" in name:
                raise ValueError(f"header {name!r} would split the request's head")
            lines.append(name.encode("latin-1") + b": " + raw)
        lines.append(b"\r\n")
        head = b"\r\n".join(lines)
        return head + body if body else head

    # Reading: one buffer per connection, filled by recv as a line or a length needs it.

    def _status_line(self) -> tuple[int, str]:
        line = self._line()
        if not line:
            raise ConnectionError("the server closed the connection without an answer")
        version, _, rest = line.partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit() or rest[3:4] not in ("", " "):
            raise ProtocolError(f"not an HTTP/1.x status line: {line[:40]!r}")
        return int(code), version

    def _header_lines(self) -> dict[str, str]:
        """The head's header lines, by lower-case name, up to its empty line."""
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            line = self._line()
            if not line:
                return headers
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise ProtocolError(f"not a header line: {line[:40]!r}")
            key = name.lower()
            value = value.strip(" \t")
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        raise ProtocolError(f"more than {MAX_HEADERS} header lines")

    def _line(self) -> str:
        """The next line without its line end (CRLF, or a bare LF as ``http.client`` allows)."""
        searched = 0
        while (end := self._buffer.find(b"\n", searched)) < 0:
            if len(self._buffer) > MAX_LINE:
                raise ProtocolError(f"a line longer than {MAX_LINE} bytes")
            searched = len(self._buffer)
            if not self._receive():
                if self._buffer:
                    raise ConnectionError("the server closed the connection mid-line")
                return ""
        if end > MAX_LINE:
            raise ProtocolError(f"a line longer than {MAX_LINE} bytes")
        line = bytes(self._buffer[:end]).rstrip(b"\r")
        del self._buffer[: end + 1]
        return line.decode("latin-1")

    def _exactly(self, length: int) -> bytes:
        while len(self._buffer) < length:
            if not self._receive():
                raise ConnectionError(f"the answer ended after {len(self._buffer)} of {length} bytes")
        content = bytes(self._buffer[:length])
        del self._buffer[:length]
        return content

    def _chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size_line = self._line().split(";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise ProtocolError(f"not a chunk size: {size_line[:20]!r}") from None
            if size == 0:
                self._header_lines()  # the trailer section, up to its empty line
                return b"".join(parts)
            parts.append(self._exactly(size))
            if self._line():
                raise ProtocolError("a chunk not followed by its line end")

    def _until_closed(self) -> bytes:
        while self._receive():
            pass
        content = bytes(self._buffer)
        self._buffer.clear()
        return content

    def _receive(self) -> bool:
        data = self.sock.recv(_RECEIVE_BYTES)
        self._buffer += data
        return bool(data)


def _length(value: str) -> int:
    # Repeated identical values ("12, 12") are one length (RFC 9110 section 8.6).
    lengths = {part.strip() for part in value.split(",")}
    if len(lengths) != 1 or not (length := lengths.pop()).isdigit():
        raise ProtocolError(f"not a Content-Length: {value[:40]!r}")
    return int(length)
