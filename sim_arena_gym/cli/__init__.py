"""The ``sim-arena`` console script.

Each command group lives in its own module with a ``register(commands, trace_commands)`` function that
adds argparse sub-parsers; a sub-parser sets ``func(args) -> int`` as its handler.

Exit statuses, the same for every command (:func:`main` handles them, so commands added later get them):

* ``0``: done (``1`` where a command says so, e.g. ``demo`` when the agent did not repair);
* ``2``: a user error -- a bad flag or argument (argparse's usage errors included), a bad trace,
  scenario or index (``TraceError``), a bad option value (``ValueError``, e.g. ``OptionError``), a
  backend that cannot run the scenario (``BackendError``), or a ``UsageError``: **one line**
  ``sim-arena: error: ...`` on stderr, never a traceback;
* ``70`` (``EX_SOFTWARE``): an unexpected internal error, a bug: one line saying so; the traceback is
  printed only with ``--debug`` (``sim-arena --debug run ...``; ``--debug`` may stand anywhere);
* ``130``: interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from typing import NoReturn, Sequence

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


#: Exit status of a user error (bad flags, inputs or options).
EXIT_USAGE = 2
#: Exit status of an unexpected internal error (``EX_SOFTWARE`` of sysexits.h).
EXIT_BUG = 70
#: Exit status after Ctrl-C.
EXIT_INTERRUPTED = 130

EPILOG = """\
exit status: 0 done; 2 user error (bad flag, trace, scenario or option: one line on stderr);
70 internal error (a bug: one line; the traceback with --debug); 130 interrupted.

limits (raise with the environment variable): a trace file has at most 256 MiB
(SIM_ARENA_MAX_TRACE_BYTES); a trace asks for at most 10000 pods at once (SIM_ARENA_MAX_PODS); a replay
creates at most 100000 pods (SIM_ARENA_MAX_PODS_CREATED), runs timers at most at 200000 instants
(SIM_ARENA_MAX_TIMER_INSTANTS) and at most 2000 CronJob schedule ticks (SIM_ARENA_MAX_CRON_RUNS); a node
pool has at most 5000 nodes (SIM_ARENA_MAX_NODES_PER_POOL).

writes: never onto a directory, device, FIFO, socket or symbolic link; never onto the input, a
scenario's trace file or the committed scenario set (traces/) unless --overwrite; atomic (temp file +
rename; stale temp files of killed writes are removed).
"""


class UsageError(Exception):
    """A command was called with arguments that cannot work; the message says why."""


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors become :class:`UsageError` (printed as one line)."""

    def error(self, message: str) -> "NoReturn":  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    """The ``sim-arena`` argument parser with every command of :data:`COMMAND_MODULES` registered."""
    parser = _Parser(
        prog="sim-arena",
        description="Repair Kubernetes workloads stuck Pending, on SimKube traces.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true",
                        help="on an internal error, print the traceback (may stand anywhere on the line)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    trace = commands.add_parser("trace", help="inspect, convert and generate SimKube traces",
                                description="Inspect, convert and generate SimKube traces (.sktrace msgpack or JSON).")
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


#: Top-level modules of the optional extras (pyproject.toml) -> the extra that installs them.
EXTRA_OF_MODULE = {
    "torch": "train", "stable_baselines3": "train", "sb3_contrib": "train", "yaml": "train",
    "tensorboard": "train", "tqdm": "train", "rich": "train", "matplotlib": "train",
    "ray": "rllib", "tree": "rllib", "mcp": "mcp",
}


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The one-line message for a command that needs an optional extra that is not installed, else None."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    if extra is None:
        return None
    return (f"this command needs the '{extra}' extra (module {top!r} is not installed): "
            f"pip install 'sim-arena-gym[{extra}]', or `make install` in a checkout")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the console script; returns the exit status (see the module docstring)."""
    from sim_arena_gym.backends.base import BackendError
    from sim_arena_gym.trace.errors import TraceError

    args_in = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_in
    if debug:
        args_in = [a for a in args_in if a != "--debug"]
    try:
        parser = build_parser()
        args = parser.parse_args(args_in)
        return int(args.func(args) or 0)
    except (TraceError, UsageError, ValueError, BackendError) as exc:
        print(f"sim-arena: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `sim-arena trace inspect x | head`
        return 0
    except KeyboardInterrupt:
        print("sim-arena: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # anything else is a bug: one line, the traceback only with --debug
        extra = missing_extra(exc) if isinstance(exc, ModuleNotFoundError) else None
        if extra is not None:  # an optional extra not installed: a set-up error, not a bug
            print(f"sim-arena: error: {extra}", file=sys.stderr)
            return EXIT_USAGE
        if debug:
            traceback.print_exc()
        hint = "" if debug else " (run again with --debug for the traceback)"
        print(
            f"sim-arena: internal error, a bug: {type(exc).__name__}: {_one_line(exc)}{hint}; please report it",
            file=sys.stderr,
        )
        return EXIT_BUG


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
