"""The ``streams`` command: one argparse sub-command per module.

Each sub-command lives in its own module exposing::

    def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser: ...
    def run(args: argparse.Namespace) -> int: ...

and is listed in :data:`COMMANDS`. To add one, write the module and append a line there;
nothing else changes. A listed module that does not exist yet is skipped, so the list can run
ahead of the code; one that fails to import shows up as unavailable and re-raises its error
when used, without breaking the other commands.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

#: (sub-command name, module implementing it), in the order ``--help`` shows them.
COMMANDS: list[tuple[str, str]] = [
    ("run", "streams.cli.run"),
    ("describe", "streams.cli.describe"),
    ("demo", "streams.cli.demo"),
    ("local-kafka", "streams.cli.local_kafka"),
    ("reset", "streams.cli.reset"),
]


def _load(module_name: str) -> ModuleType | None:
    """The command's module; ``None`` if it is not written yet (other errors propagate)."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise


def _add_broken(subparsers: Any, name: str, error: Exception) -> None:
    """Register ``name`` so that using it re-raises ``error``; other commands keep working."""

    def run(args: argparse.Namespace) -> int:
        raise error

    sub = subparsers.add_parser(name, help=f"(unavailable: {type(error).__name__}: {error})")
    sub.add_argument("rest", nargs=argparse.REMAINDER)
    sub.set_defaults(_run=run, _command=name)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="streams",
        description="Kafka Streams-style stream processing for Python.",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (repeatable)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS:
        try:
            module = _load(module_name)
        except Exception as exc:
            # One broken command (say, mid-refactor) must not take `streams demo` down with it.
            _add_broken(subparsers, name, exc)
            continue
        if module is None:
            continue
        sub = module.add_parser(subparsers)
        sub.set_defaults(_run=module.run, _command=name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``streams`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.verbose < 2:
        # Kafka clients warn about retriable conditions that are normal right after a broker
        # starts ("coordinator load in progress"); only -vv shows them.
        logging.getLogger("streams.testing.librdkafka").setLevel(logging.ERROR)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    from streams.errors import StreamsError

    try:
        return int(run(args))
    except StreamsError as exc:
        # a user mistake or an unavailable cluster: say what, without a traceback
        print(f"streams {args._command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
