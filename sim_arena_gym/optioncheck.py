"""Checks for user options (``gym.make`` keywords, index entries, CLI flags): one typed error per bad value.

Every check raises :class:`OptionError`, a ``ValueError`` whose message starts with the option's name
(``nodes[0].labels``, ``reward_weights['success']``) and says what was expected, so that a bad option is
reported in one line. Quantities are read with :func:`sim_arena_gym.quantity.read_quantity`, the same
code path trace quantities take.

This module is at the bottom of the import order (next to :mod:`sim_arena_gym.quantity`): every layer may
use it. Layer-specific option sets are built from these checks (``sim_arena_gym.env.config``).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from sim_arena_gym.quantity import QuantityError, read_cpu_millis, read_memory_bytes

__all__ = [
    "OptionError",
    "check_bool",
    "check_choice",
    "check_finite",
    "check_int",
    "check_mapping",
    "check_quantity",
    "check_str",
    "check_str_map",
]


class OptionError(ValueError):
    """A user option has a value that cannot work.

    Attributes:
        option: the option's name, with the path inside it (``nodes[0].count``).
        value: the value given.
    """

    def __init__(self, option: str, value: Any, expected: str) -> None:
        self.option = option
        self.value = value
        shown = repr(value)
        if len(shown) > 120:
            shown = shown[:117] + "..."
        super().__init__(f"{option} {shown}: {expected}")


def _type_name(value: Any) -> str:
    return type(value).__name__


def check_int(option: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """An ``int`` (not ``bool``) within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(option, value, f"expected an integer, got {_type_name(value)}")
    if low is not None and value < low:
        raise OptionError(option, value, f"expected an integer of at least {low}")
    if high is not None and value > high:
        raise OptionError(option, value, f"expected an integer of at most {high}")
    return value


def check_bool(option: str, value: Any) -> bool:
    """A ``bool`` (not an int standing for one)."""
    if not isinstance(value, bool):
        raise OptionError(option, value, f"expected true or false, got {_type_name(value)}")
    return value


def check_finite(option: str, value: Any) -> float:
    """A finite ``int`` or ``float`` (not ``bool``, NaN or infinity)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise OptionError(option, value, "expected a finite number")
    return float(value)


def check_str(option: str, value: Any, *, empty: bool = False) -> str:
    """A string, non-empty unless ``empty=True``."""
    if not isinstance(value, str) or (not empty and not value):
        raise OptionError(option, value, "expected a non-empty string" if not empty else "expected a string")
    return value


def check_choice(option: str, value: Any, choices: Sequence[str]) -> str:
    """One of ``choices`` (strings)."""
    if not isinstance(value, str) or value not in choices:
        raise OptionError(option, value, f"expected one of {', '.join(repr(c) for c in choices)}")
    return value


def check_mapping(option: str, value: Any, *, keys: Sequence[str] | None = None) -> Mapping[str, Any]:
    """A mapping with string keys (only ``keys`` when given)."""
    if not isinstance(value, Mapping):
        raise OptionError(option, value, f"expected a dict, got {_type_name(value)}")
    for key in value:
        if not isinstance(key, str):
            raise OptionError(option, value, f"keys must be strings, got {key!r}")
    if keys is not None:
        unknown = sorted(set(value) - set(keys))
        if unknown:
            raise OptionError(option, value, f"unknown key(s) {unknown}; valid: {sorted(keys)}")
    return value


def check_str_map(option: str, value: Any) -> dict[str, str]:
    """A mapping of strings to strings (labels)."""
    check_mapping(option, value)
    for key, item in value.items():
        if not isinstance(item, str):
            raise OptionError(f"{option}[{key!r}]", item, f"expected a string, got {_type_name(item)}")
    return dict(value)


def check_quantity(option: str, value: Any, resource: str = "memory", *, positive: bool = False) -> int:
    """A Kubernetes quantity (string or number): millicores for ``resource="cpu"``, else whole units
    (bytes); non-negative (``positive``: above zero) and within int64."""
    try:
        amount = read_cpu_millis(value) if resource == "cpu" else read_memory_bytes(value)
    except QuantityError as exc:
        raise OptionError(option, value, f"not a Kubernetes quantity ({exc.reason})") from None
    if amount < 0 or (positive and amount == 0):
        raise OptionError(option, value, "expected a positive quantity" if positive else "must not be negative")
    return amount
