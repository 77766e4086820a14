"""Text from data made safe for one line: a header value or a subject."""

from __future__ import annotations

import re

# Control characters and every character Python's header policy treats as a line break (CR, LF, VT,
# FF, FS, GS, RS, NEL, LS, PS), with the white space around them.
_LINE_BREAKING = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str) -> str:
    """Every run of control characters, line breaks and white space becomes one space.

    A first name imported from a CSV with a stray CR/LF then neither adds a header nor makes the
    header policy refuse the whole email.
    """
    return _LINE_BREAKING.sub(" ", text).strip()
