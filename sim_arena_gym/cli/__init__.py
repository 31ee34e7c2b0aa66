"""The ``sim-arena`` console script.

Each command group lives in its own module with a ``register(commands, trace_commands)`` function that
adds argparse sub-parsers; a sub-parser sets ``func(args) -> int`` as its handler. Errors a user can fix
(``TraceError``, ``UsageError``, ``BackendError``) are printed as one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

#: Modules that contribute commands, in help order.
COMMAND_MODULES = (
    "sim_arena_gym.cli.trace_commands",  # trace inspect, trace convert
    "sim_arena_gym.cli.generate_command",  # trace generate
    "sim_arena_gym.cli.run_commands",  # run, demo
    "sim_arena_gym.cli.learn_commands",  # train, evaluate
    "sim_arena_gym.cli.cluster_commands",  # fake-cluster
    "sim_arena_gym.cli.ops_commands",  # preflight, clean
    "sim_arena_gym.cli.batch_command",  # batch
    "sim_arena_gym.cli.live_commands",  # serve, mcp
)


class UsageError(Exception):
    """A command was called with arguments that cannot work; the message says why."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sim-arena",
        description="Repair Kubernetes workloads stuck Pending, on SimKube traces.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    trace = commands.add_parser("trace", help="inspect, convert and generate SimKube traces")
    trace_commands = trace.add_subparsers(dest="trace_command", metavar="SUBCOMMAND")
    trace_commands.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command group not built yet
            if exc.name != name:
                raise
            continue
        module.register(commands, trace_commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from sim_arena_gym.backends.base import BackendError
    from sim_arena_gym.trace.errors import TraceError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (TraceError, UsageError, BackendError) as exc:
        print(f"sim-arena: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `sim-arena trace inspect x | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
