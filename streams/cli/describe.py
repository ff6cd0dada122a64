"""``streams describe MODULE:ATTR``: print the topology (text, or Mermaid with ``--mermaid``)."""

from __future__ import annotations

import argparse
from typing import Any

from streams.cli.app_loader import load_target


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``describe``."""
    p = subparsers.add_parser("describe", help="print an application's topology",
                              description=__doc__)
    p.add_argument("app", metavar="MODULE:ATTR",
                   help="a KafkaStreams, Topology, StreamsBuilder or function returning one")
    p.add_argument("--mermaid", action="store_true", help="print a Mermaid flowchart instead")
    return p


def run(args: argparse.Namespace) -> int:
    """Print the description."""
    topology, _ = load_target(args.app)
    description = topology.describe()
    print(description.to_mermaid() if args.mermaid else description)
    return 0
