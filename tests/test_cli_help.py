"""Every ``sim-arena`` command has a description and every option a help text."""

from __future__ import annotations

import argparse

from sim_arena_gym.cli import build_parser


def _undocumented(parser: argparse.ArgumentParser, name: str) -> list[str]:
    missing = [] if parser.description or name == "sim-arena" else [f"{name}: no description"]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, subparser in action.choices.items():
                missing += _undocumented(subparser, f"{name} {sub}")
        elif action.help is None and action.dest != "help":
            missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}: no help")
    return missing


def test_every_command_and_option_is_documented() -> None:
    assert _undocumented(build_parser(), "sim-arena") == []


def test_the_cli_reward_modes_are_the_envs() -> None:
    from sim_arena_gym.cli.run_commands import REWARD_MODES
    from sim_arena_gym.env.rewards import REWARDS

    assert REWARD_MODES == tuple(REWARDS)
