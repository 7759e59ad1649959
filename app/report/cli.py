"""`polyp-report SESSION`: writes the HTML report of a recorded session."""

from __future__ import annotations

import argparse
import sys

USAGE_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="polyp-report",
        description="Write the HTML report of a recorded session (timeline, polyp episodes with "
        "thumbnails, session facts): one self-contained file beside the recording.",
    )
    parser.add_argument(
        "session", metavar="SESSION",
        help="a recording folder (its newest session) or any file of a session",
    )
    parser.add_argument("--out", metavar="HTML", help="where to write (default: beside it)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .page import write_report  # matplotlib and PyAV: only after parsing
    from .session import SessionError

    try:
        path = write_report(args.session, args.out)
    except SessionError as error:
        print(f"polyp-report: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except OSError as error:
        print(f"polyp-report: error: cannot write the report: {error}", file=sys.stderr)
        return USAGE_ERROR
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
