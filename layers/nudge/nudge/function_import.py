"""A function's import on a cold start: the garbage collector stopped while it runs, and what it made
frozen when it ends.

A cold start's import makes about 60,000 objects (modules, classes, pydantic's validators, the SDK's
and Powertools' state) that live as long as the process and are almost never garbage: on the cart
function, 621 of them are. Collecting while they are made scans them again and again (137 young, 12
middle and one full collection: about 30 ms, a tenth of the import), and every later full collection
would scan them all once more, for nothing. So, in a Lambda runtime only:

- the package stops the collector when it is first imported (``nudge/__init__``). A handler module
  imports nothing but the layer's package at run time (its signature's types only for the type
  checker), so this happens before Powertools, pydantic, the SDK and the rest are imported;
- ``imported``, the handler's outermost decorator and so the last thing its module does, freezes what
  the import made (``gc.freeze``: never scanned again; the few hundred garbage objects among them are
  kept) and starts the collector, before the first event arrives.

Anywhere else (tests, the local stack, the tools) the collector is never touched: those import the
package long before any handler, in a process that is not a cold start. tests/tools/test_cold_start.py
imports every function's handler as Lambda does, and checks that no collection ran during the import
and that the collector runs after it.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import TypeVar

import nudge

__all__ = ["imported"]

Handler = TypeVar("Handler", bound=Callable[..., object])


def imported(handler: Handler) -> Handler:
    """The handler, unchanged. Applied last, it ends the import: if the package stopped the collector
    for it, what the import made is frozen and the collector runs again."""
    if nudge.collector_stopped_for_import:
        nudge.collector_stopped_for_import = False
        gc.freeze()
        gc.enable()
    return handler
