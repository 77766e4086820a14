"""A local HTTP endpoint that gives AWS's recorded answers back, for `make bench`'s real-socket CPU.

The handler's requests reach it over a real socket, through botocore's HTTP stack, its connection pool
and keep-alive, as they reach AWS; each request names the answer it gets
(``local_stack.emulator.failures.CANNED_ANSWER_HEADER``). It runs in a process of its own, so its CPU is not
counted as the handler's. Started by ``serving``; ``python -m local_stack.bench.canned_server FILE`` serves
the answers pickled in FILE and prints its port.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from local_stack.emulator.failures import CANNED_ANSWER_HEADER, Answer, AnswerKey

_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}


def _handler(answers: dict[AnswerKey, Answer]) -> type[BaseHTTPRequestHandler]:
    class Answering(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as AWS's endpoints

        def setup(self) -> None:
            super().setup()
            # As AWS's endpoints: an answer is not held back for the client's delayed ACK.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            key: AnswerKey = tuple(json.loads(self.headers[CANNED_ANSWER_HEADER]))
            status, headers, body = answers[key]
            # Only the recorded headers: send_response would add a Server and a Date of its own to
            # the recorded ones, two headers more for the handler to parse than AWS sends. Head and
            # body leave in one write, as a small answer leaves AWS's endpoints in one segment.
            reason = self.responses.get(status, ("",))[0]
            lines = [f"HTTP/1.1 {status} {reason}"]
            lines += [
                f"{name}: {value}" for name, value in headers.items() if name.lower() not in _HOP_BY_HOP
            ]
            lines += [f"Content-Length: {len(body)}", "", ""]
            self.wfile.write("\r\n".join(lines).encode("latin-1") + body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, *_: object) -> None:
            pass

    return Answering


def apart_from_the_handler() -> None:
    """This endpoint on the machine's last CPU, the measured handler on its first (``handler_apart``):
    AWS's endpoints never run on the function's core, and a wake-up on the same core would count
    their work's cache misses as the handler's CPU (on this 2-core machine, 1 to 4 ms an email
    from run to run). Where there is one CPU, nothing is pinned."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > 1:
        os.sched_setaffinity(0, {cpus[-1]})


@contextmanager
def handler_apart() -> Iterator[None]:
    """The measuring process on its first CPU for the block (the endpoint has the last)."""
    cpus = os.sched_getaffinity(0)
    if len(cpus) > 1:
        os.sched_setaffinity(0, {min(cpus)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, cpus)


@contextmanager
def serving(answers: dict[AnswerKey, Answer]) -> Iterator[str]:
    """A canned-answer server in another process, for the duration of the block: its URL."""
    with tempfile.NamedTemporaryFile(suffix=".pickle") as file:
        pickle.dump(answers, file)
        file.flush()
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "local_stack.bench.canned_server", file.name],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            port = int(process.stdout.readline())
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def main() -> None:
    answers = pickle.loads(Path(sys.argv[1]).read_bytes())  # noqa: S301 (our own file, just written)
    apart_from_the_handler()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(answers))
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
