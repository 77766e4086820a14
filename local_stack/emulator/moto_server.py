"""moto's server for a process of its own (``running_moto(own_process=True)``): moto.server's main,
with per-request costs taken out that do not change what moto answers (patches.speed_up_moto_server):

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
microseconds a message per call instead of tens. It answers one request at a time
(patches.OneRequestAtATime), as the threaded server does. Only this server is changed: the in-process
one the tests use is moto as it comes, except for what moto lacks and both servers add
(``local_stack.emulator.moto_message_moves``: SQS's dead-letter redrive).
"""

from __future__ import annotations

import sys

from moto import server

from local_stack.emulator import moto_message_moves, patches


def install() -> None:
    """Patch moto in this process (its server's, never a test's)."""
    # Before the method lists are cached: the redrive actions must be among them.
    moto_message_moves.install()
    patches.speed_up_moto_server()


if __name__ == "__main__":
    install()
    server.main(sys.argv[1:])
