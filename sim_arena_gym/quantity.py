"""Kubernetes resource quantities (``resource.Quantity`` of k8s.io/apimachinery), exact and cached.

This module reproduces the behaviour of the upstream parser that the API server and the scheduler use,
as described in ``shared/docs/k8s-scheduling-rules.md`` section 1:

* Grammar: an optional sign, ASCII digits with at most one ``.``, then a suffix: decimal SI
  (``n u m "" k M G T P E``), binary SI (``Ki Mi Gi Ti Pi Ei``) or a decimal exponent (``e3``, ``E-2``,
  ``e+3``). The scanner's quirks are kept: ``Gi``, ``m``, ``.``, ``+`` and ``-`` parse as zero, ``1E``
  is 10^18 (exa), ``1e`` and ``1K`` are errors, ``+1``, ``007``, ``1.``, ``1.G``, ``1E3`` are valid.
* Errors carry exactly one of the two upstream texts (:data:`ERR_FORMAT`, :data:`ERR_SUFFIX`).
* Values are exact (:class:`fractions.Fraction`). Any non-zero value is rounded *up in magnitude* to a
  whole number of nano-units (10^-9) at parse time; binary-SI values above 2^63-1 are capped.
* The scheduler reads CPU as ``MilliValue()`` (ceil of value x 1000, millicores) and memory as
  ``Value()`` (rounded up away from zero, bytes): :meth:`Quantity.milli_value`,
  :meth:`Quantity.whole_value`, :func:`cpu_millis`, :func:`memory_bytes`.
* :meth:`Quantity.canonical` is the API server's canonical text (``String()``); :func:`format_cpu` and
  :func:`format_memory` give the canonical text for a value in millicores / bytes.

Departures from upstream, all deliberate:

* Decimal-SI and exponent values are not capped upstream; :func:`parse_quantity` keeps them exactly up
  to a magnitude of 10^1000 and rejects larger ones (a guard against ``1e999999999``), and
  :func:`cpu_millis` / :func:`memory_bytes` reject results outside the int64 range instead of
  overflowing silently as ``MilliValue()`` / ``Value()`` do.
* Inputs longer than :data:`MAX_TEXT_LENGTH` characters are rejected (nobody writes such quantities;
  the limit keeps parsing cheap).
* :meth:`Quantity.canonical` always normalises; upstream sometimes passes an already-canonical-looking
  input text through unchanged (``1E3``, ``+1``), which this model does not keep.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

__all__ = [
    "BINARY_SI",
    "DECIMAL_EXPONENT",
    "DECIMAL_SI",
    "ERR_FORMAT",
    "ERR_SUFFIX",
    "INT64_MAX",
    "INT64_MIN",
    "Quantity",
    "QuantityError",
    "ceil_millis",
    "ceil_whole",
    "cpu_millis",
    "format_cpu",
    "format_memory",
    "memory_bytes",
    "parse_quantity",
    "read_cpu_millis",
    "read_memory_bytes",
    "read_quantity",
]

#: Upstream error text for input whose shape does not match the quantity grammar.
ERR_FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
#: Upstream error text for input whose shape matches but whose suffix is not a known one.
ERR_SUFFIX = "unable to parse quantity's suffix"

#: Format families remembered from the input, as in apimachinery.
BINARY_SI = "BinarySI"
DECIMAL_SI = "DecimalSI"
DECIMAL_EXPONENT = "DecimalExponent"

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

#: Longest input text accepted (a local guard, see the module docstring).
MAX_TEXT_LENGTH = 1000
#: Largest decimal exponent of the most significant digit accepted (a local guard).
_MAX_DECIMAL_MAGNITUDE = 1000

_NANO = 10**9
_DIGITS = frozenset("0123456789")
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DECIMAL_SUFFIXES: dict[str, int] = {
    "n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
}  # fmt: skip
_DECIMAL_SUFFIX_OF_EXPONENT: dict[int, str] = {exp: sfx for sfx, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIXES: dict[str, int] = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BINARY_SUFFIX_OF_STEP = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


class QuantityError(ValueError):
    """A Kubernetes quantity could not be parsed (or used).

    ``str(error)`` is the upstream error text followed by the offending input, quoted, e.g.
    ``unable to parse quantity's suffix: '1K'``.

    Attributes:
        reason: the upstream error text alone (:data:`ERR_FORMAT`, :data:`ERR_SUFFIX`) or, for the
            local range guards, a short description.
        text: the offending input as given.
    """

    def __init__(self, reason: str, text: object) -> None:
        self.reason = reason
        self.text = text
        super().__init__(f"{reason}: {text!r}")


@dataclass(frozen=True, slots=True)
class Quantity:
    """An exact Kubernetes quantity.

    Attributes:
        value: the exact value; non-zero values are whole multiples of 10^-9 (rounded up in magnitude
            at parse time, as upstream does).
        format: the format family of the input: ``"BinarySI"``, ``"DecimalSI"`` or
            ``"DecimalExponent"``; it only affects :meth:`canonical`.
    """

    value: Fraction
    format: str

    def milli_value(self) -> int:
        """``ceil(value * 1000)``: CPU in millicores, the scheduler's ``MilliValue()`` (no overflow)."""
        value = self.value
        return -((-value.numerator * 1000) // value.denominator)

    def whole_value(self) -> int:
        """The value rounded up away from zero: bytes / counts, the scheduler's ``Value()``."""
        value = self.value
        if value >= 0:
            return -((-value.numerator) // value.denominator)
        return value.numerator // value.denominator

    def canonical(self) -> str:
        """The API server's canonical text (apimachinery ``String()``).

        The largest suffix that keeps the mantissa an integer, e.g. ``1.5`` -> ``1500m``,
        ``1.5Gi`` -> ``1536Mi``, ``1.5e3`` -> ``1500``, ``5e-1`` -> ``500e-3``. A binary-SI value below
        1024 in magnitude or with a fractional part is written in decimal-SI form (``0.5Ki`` -> ``512``,
        ``1.1Ki`` -> ``1126400m``). Zero is always ``0``."""
        return _canonical(self.value, self.format)

    def __str__(self) -> str:
        return self.canonical()


# ---------------------------------------------------------------------------------------------------
# parsing


def _scan(text: str) -> tuple[bool, str, str, str]:
    """Split ``text`` into (negative, integer digits, fraction digits, suffix) like the upstream scanner.

    Leading zeros of the integer part are dropped; a text that is only a sign and/or zeros is zero.
    Raises :class:`QuantityError` (format) when characters remain after the suffix."""
    end = len(text)
    if end == 0:
        raise QuantityError(ERR_FORMAT, text)
    pos = 0
    negative = False
    if text[0] in "+-":
        negative = text[0] == "-"
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos == end:  # "0", "000", "+", "-": zero with no suffix (upstream quirk)
        return negative, "", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    whole = text[start:pos]
    fraction = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        fraction = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT, text)
    return negative, whole, fraction, text[suffix_start:]


def _interpret_suffix(suffix: str, text: str) -> tuple[int, int, str]:
    """Return (base, exponent, format) for a suffix: base 10 or 2, the power of that base."""
    exponent = _DECIMAL_SUFFIXES.get(suffix)
    if exponent is not None:
        return 10, exponent, DECIMAL_SI
    exponent = _BINARY_SUFFIXES.get(suffix)
    if exponent is not None:
        return 2, exponent, BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        body = digits[1:] if digits[0] in "+-" else digits
        if body and all(c in _DIGITS for c in body):
            exponent = int(digits)
            if _INT32_MIN <= exponent <= _INT32_MAX:
                return 10, exponent, DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX, text)


def _round_up_to_nano(value: Fraction) -> Fraction:
    """Round a non-negative value up to a whole number of 10^-9 units."""
    if (_NANO % value.denominator) == 0:
        return value
    return Fraction(-((-value.numerator * _NANO) // value.denominator), _NANO)


def _magnitude(digits: str, exp10: int, base: int, binary_exp: int, text: str) -> Fraction:
    """Exact non-negative value of ``int(digits) * 10**exp10 * 2**binary_exp``, rounded and capped.

    ``digits`` has no leading zeros and is not empty. Values far below 10^-9 short-cut to 10^-9 and
    binary values far above 2^63 short-cut to the cap, so that huge exponents cost nothing."""
    top = exp10 + len(digits) - 1  # decimal exponent of the most significant digit
    if base == 2:
        if top > 30:  # at least 10^30 before scaling: above 2^63 whatever the suffix
            return Fraction(INT64_MAX)
        if top < -29:  # below 10^-29 * 2^60 < 10^-9
            return Fraction(1, _NANO)
    else:
        if top < -9:
            return Fraction(1, _NANO)
        if top > _MAX_DECIMAL_MAGNITUDE:
            raise QuantityError(f"quantity is too large (above 10^{_MAX_DECIMAL_MAGNITUDE})", text)
    mantissa = int(digits)
    if exp10 >= 0:
        value = Fraction(mantissa * 10**exp10)
    else:
        value = Fraction(mantissa, 10**-exp10)
    if binary_exp:
        value *= 1 << binary_exp
    value = _round_up_to_nano(value)
    if base == 2 and value > INT64_MAX:
        value = Fraction(INT64_MAX)
    return value


def _parse_text(text: str) -> Quantity:
    """Parse one quantity text (no whitespace trimming), uncached."""
    if len(text) > MAX_TEXT_LENGTH:
        raise QuantityError(f"quantity is longer than {MAX_TEXT_LENGTH} characters", text[:40] + "...")
    negative, whole, fraction, suffix = _scan(text)
    base, exponent, fmt = _interpret_suffix(suffix, text)
    digits = (whole + fraction).lstrip("0")
    if not digits:
        return Quantity(Fraction(0), fmt)
    if base == 10:
        value = _magnitude(digits, exponent - len(fraction), 10, 0, text)
    else:
        value = _magnitude(digits, -len(fraction), 2, exponent, text)
        if value < 1:  # a non-zero binary value below one is remembered as decimal (upstream)
            fmt = DECIMAL_SI
    return Quantity(-value if negative else value, fmt)


def _number_text(value: object) -> str:
    """The literal text of a JSON scalar as the apiserver's JSON decoder would see it."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest round-trip text: 0.5, 1e-05, 1e+16, inf, nan
    raise QuantityError(ERR_FORMAT, value)


@functools.lru_cache(maxsize=65536, typed=True)
def _parse_cached(text: str | int | float) -> Quantity:
    if type(text) is str:
        return _parse_text(text)
    return _parse_text(_number_text(text))


def parse_quantity(text: str | int | float) -> Quantity:
    """Parse a Kubernetes quantity: a string, or a JSON number (``int``/``float``) via its literal text.

    Results are cached on the input. Outer whitespace is **not** trimmed (the Go parse function does
    not trim; the JSON decoder does, so call ``parse_quantity(s.strip())`` for text from JSON/YAML).
    Raises :class:`QuantityError` with the upstream error text and the input."""
    try:
        return _parse_cached(text)
    except TypeError:  # unhashable input: not a quantity at all
        raise QuantityError(ERR_FORMAT, text) from None


def read_quantity(value: object) -> Quantity:
    """Parse a quantity as the API server reads one from JSON or YAML: the one entry point for
    quantities from traces, index files, env options and CLI flags.

    Accepts a string (outer whitespace trimmed, as the JSON decoder does: ``" 1 "`` is ``1``) or a
    JSON number (``int``/``float``, not ``bool``). Raises :class:`QuantityError` otherwise."""
    if type(value) is str:
        return parse_quantity(value.strip())
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise QuantityError("quantities must be strings or numbers", value)
    return parse_quantity(value)


def _read_scaled(value: object, scaled: Callable[[Any], int]) -> int:
    if type(value) is str:
        return scaled(value.strip())
    read_quantity(value)  # the type check
    return scaled(value)


def read_cpu_millis(value: object) -> int:
    """:func:`read_quantity` in millicores (the scheduler's ``MilliValue()``), within int64.

    Raises :class:`QuantityError` for bad input and for values outside the int64 range."""
    return _read_scaled(value, cpu_millis)


def read_memory_bytes(value: object) -> int:
    """:func:`read_quantity` in bytes (or counts: the scheduler's ``Value()``), within int64.

    Raises :class:`QuantityError` for bad input and for values outside the int64 range."""
    return _read_scaled(value, memory_bytes)


# ---------------------------------------------------------------------------------------------------
# scheduler units


def ceil_millis(value: Fraction) -> int:
    """``ceil(value * 1000)`` for an exact value in cores: millicores, as the scheduler rounds a pod's
    summed CPU request once per pod (``0.5m + 0.5m`` -> 1)."""
    return -((-value.numerator * 1000) // value.denominator)


def ceil_whole(value: Fraction) -> int:
    """An exact value rounded up away from zero to whole units (bytes, counts), once per pod."""
    if value >= 0:
        return -((-value.numerator) // value.denominator)
    return value.numerator // value.denominator


def _check_int64(result: int, text: object, unit: str) -> int:
    if not INT64_MIN <= result <= INT64_MAX:
        raise QuantityError(f"quantity is out of the int64 range in {unit}", text)
    return result


@functools.lru_cache(maxsize=65536, typed=True)
def _cpu_millis_cached(text: str | int | float) -> int:
    return _check_int64(_parse_cached(text).milli_value(), text, "millicores")


@functools.lru_cache(maxsize=65536, typed=True)
def _memory_bytes_cached(text: str | int | float) -> int:
    return _check_int64(_parse_cached(text).whole_value(), text, "bytes")


def cpu_millis(text: str | int | float) -> int:
    """CPU in millicores (the scheduler's ``MilliValue()``) of a quantity text or JSON number; cached.

    Raises :class:`QuantityError` for bad text and for results outside the int64 range."""
    try:
        return _cpu_millis_cached(text)
    except TypeError:
        raise QuantityError(ERR_FORMAT, text) from None


def memory_bytes(text: str | int | float) -> int:
    """Memory in bytes, rounded up (the scheduler's ``Value()``) of a quantity text or JSON number;
    cached. Raises :class:`QuantityError` for bad text and for results outside the int64 range."""
    try:
        return _memory_bytes_cached(text)
    except TypeError:
        raise QuantityError(ERR_FORMAT, text) from None


# ---------------------------------------------------------------------------------------------------
# canonical text


def _decimal_parts(value: Fraction) -> tuple[int, int]:
    """(mantissa, exponent) with ``value == mantissa * 10**exponent``, the exponent a multiple of three
    and as large as possible while the mantissa stays an integer (apimachinery's canonical split)."""
    scaled = value * _NANO  # whole for parsed values; anything finer is rounded away from zero
    mantissa = ceil_whole(scaled) if scaled.denominator != 1 else scaled.numerator
    exponent = -9
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3  # Python's modulo is non-negative: move down to a multiple of three
    return mantissa * 10**shift, exponent - shift


def _canonical(value: Fraction, fmt: str) -> str:
    if value == 0:
        return "0"
    if fmt == BINARY_SI:
        if -1024 < value < 1024 or value.denominator != 1:
            fmt = DECIMAL_SI
        else:
            number = int(value)
            step = 0
            while step < 6 and number % 1024 == 0:
                number //= 1024
                step += 1
            return f"{number}{_BINARY_SUFFIX_OF_STEP[step]}"
    mantissa, exponent = _decimal_parts(value)
    if fmt == DECIMAL_SI:
        suffix = _DECIMAL_SUFFIX_OF_EXPONENT.get(exponent)
        if suffix is not None:
            return f"{mantissa}{suffix}"
    # DecimalExponent, or decimal SI beyond exa (upstream falls back to exponent notation)
    return f"{mantissa}e{exponent}" if exponent else str(mantissa)


@functools.lru_cache(maxsize=16384)
def format_cpu(millis: int) -> str:
    """Canonical CPU text for a value in millicores: 500 -> ``500m``, 2000 -> ``2``, 16500 -> ``16500m``."""
    return _canonical(Fraction(int(millis), 1000), DECIMAL_SI)


@functools.lru_cache(maxsize=16384)
def format_memory(n_bytes: int) -> str:
    """Canonical memory text for a value in bytes: binary SI when it is a whole multiple of 1024
    (268435456 -> ``256Mi``, 1610612736 -> ``1536Mi``), decimal SI otherwise (1000 -> ``1k``,
    1500 -> ``1500``)."""
    n_bytes = int(n_bytes)
    fmt = BINARY_SI if n_bytes % 1024 == 0 else DECIMAL_SI
    return _canonical(Fraction(n_bytes), fmt)
