"""python -m preview [render] [--out DIR]: every email into DIR (out/preview/) with an index.html;
python -m preview check [--out DIR]: open each of them in headless Chromium and check it.

Exit status 1 when a template fails to render (naming the file, the line and every combination it
broke) or when the browser finds a defect (naming the email and the rule).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from local_stack.emulator.stack import REPO_ROOT

OUT_DIR = REPO_ROOT / "out" / "preview"
TEMPLATES_DIR = REPO_ROOT / "templates"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preview", description=__doc__)
    parser.add_argument("command", nargs="?", choices=("render", "check"), default="render")
    parser.add_argument(
        "--out", type=Path, default=OUT_DIR, help="the gallery's folder (default: out/preview)"
    )
    parser.add_argument("--templates", type=Path, default=TEMPLATES_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command == "check":
        from preview.browser import check_gallery

        return check_gallery(args.out)
    return _render(args.templates.resolve(), args.out)


def _render(templates_dir: Path, out_dir: Path) -> int:
    from preview.gallery import GalleryError, build
    from preview.samples import SampleDataError

    started = time.perf_counter()
    try:
        emails = build(templates_dir, out_dir)
    except (GalleryError, SampleDataError) as error:
        print(f"preview failed: {error}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    shown = out_dir.relative_to(REPO_ROOT) if out_dir.is_relative_to(REPO_ROOT) else out_dir
    print(f"{len(emails)} emails rendered in {seconds:.1f} s: open {shown}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
