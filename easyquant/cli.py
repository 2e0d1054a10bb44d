"""The ``easyquant`` command line. Each area registers its own sub-commands.

An area module (e.g. ``easyquant.data.commands``) exposes ``register(subparsers)`` which adds
its parsers and sets ``func`` on each; ``func(args)`` returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Sequence

from easyquant import redact
from easyquant.errors import EasyQuantError

AREAS = (
    "easyquant.db.commands",
    "easyquant.data.commands",
    "easyquant.backtest.commands",
    "easyquant.live.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="easyquant", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in AREAS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; print errors as one clear line and return a non-zero code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    redact.install()
    try:
        return int(args.func(args) or 0)
    except EasyQuantError as exc:
        if getattr(args, "json", False):
            print(
                json.dumps({"error": type(exc).__name__, "message": redact.redact_text(str(exc))})
            )
        print(f"error: {redact.redact_text(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
