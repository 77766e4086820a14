"""`make check-emails`: SpamAssassin, a spam filter written by others, scores every email in out/outbox/.

Runs offline (`spamassassin -t -L`: local tests only, no DNS or network rules). Exit code 1 if any
email scores above the limit, 0 otherwise, and 0 with a notice where SpamAssassin is not installed
(Debian: `apt-get install spamassassin`). MISSING_MID is expected: SES adds the Message-ID.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from local_stack.emulator.stack import REPO_ROOT

OUTBOX = REPO_ROOT / "out" / "outbox"
LIMIT = 2.0
_STATUS = re.compile(r"^X-Spam-Status: \w+, score=(-?[\d.]+) .*?tests=(.*?)\s+autolearn=", re.M | re.S)


def score(path: Path, spamassassin: str) -> tuple[float, list[str]]:
    """The score and the rules that fired, from the X-Spam-Status header SpamAssassin adds."""
    result = subprocess.run(  # noqa: S603 (a fixed local binary on a file we wrote)
        [spamassassin, "-t", "-L"], input=path.read_bytes(), capture_output=True, check=True, timeout=120
    )
    match = _STATUS.search(result.stdout.decode("utf-8", "replace"))
    if match is None:
        raise RuntimeError(f"SpamAssassin added no X-Spam-Status to {path.name}")
    rules = [rule.strip() for rule in match.group(2).split(",") if rule.strip()]
    return float(match.group(1)), rules


def main() -> int:
    spamassassin = shutil.which("spamassassin")
    if spamassassin is None:
        print("check-emails: SpamAssassin is not installed (apt-get install spamassassin); skipped")
        return 0
    emails = sorted(OUTBOX.glob("*.eml"))
    if not emails:
        print("check-emails: no emails in out/outbox/; run `make demo` first")
        return 1
    worst = 0.0
    for path in emails:
        points, rules = score(path, spamassassin)
        worst = max(worst, points)
        print(f"{'  ' if points <= LIMIT else 'X '}{points:5.1f}  {path.name:<48} {', '.join(rules)}")
    verdict = "all at or below" if worst <= LIMIT else "some above"
    print(f"{len(emails)} emails scored by SpamAssassin (offline), worst {worst:.1f}: {verdict} {LIMIT}")
    return 0 if worst <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
