"""Kubernetes quantities: the table of k8s-scheduling-rules.md 1.5, error texts, canonical forms."""

from __future__ import annotations

from fractions import Fraction

import pytest

from sim_arena_gym.quantity import (
    BINARY_SI,
    DECIMAL_EXPONENT,
    DECIMAL_SI,
    ERR_FORMAT,
    ERR_SUFFIX,
    INT64_MAX,
    Quantity,
    QuantityError,
    ceil_millis,
    ceil_whole,
    cpu_millis,
    format_cpu,
    format_memory,
    memory_bytes,
    parse_quantity,
)

# input, canonical, milli value (ceil of x1000), whole value (ceil away from zero)
TABLE = [
    ("1", "1", 1000, 1),
    ("0.5", "500m", 500, 1),
    (".5", "500m", 500, 1),
    ("1.5", "1500m", 1500, 2),
    ("100m", "100m", 100, 1),
    ("0.1m", "100u", 1, 1),
    ("0.5m", "500u", 1, 1),
    ("1.5m", "1500u", 2, 1),
    ("1n", "1n", 1, 1),
    ("0.0000000001", "1n", 1, 1),
    ("3.14159", "3141590u", 3142, 4),
    ("1k", "1k", 1_000_000, 1000),
    ("1M", "1M", 1_000_000_000, 1_000_000),
    ("1Mi", "1Mi", 1_048_576_000, 1_048_576),
    ("129M", "129M", 129_000_000_000, 129_000_000),
    ("123Mi", "123Mi", 128_974_848_000, 128_974_848),
    ("1Gi", "1Gi", 1_073_741_824_000, 1_073_741_824),
    ("1.5Gi", "1536Mi", 1_610_612_736_000, 1_610_612_736),
    ("0.5Gi", "512Mi", 536_870_912_000, 536_870_912),
    ("7.5Gi", "7680Mi", 8_053_063_680_000, 8_053_063_680),
    ("0.5Ki", "512", 512_000, 512),
    ("1.1Ki", "1126400m", 1_126_400, 1127),
    ("0.1Ki", "102400m", 102_400, 103),
    ("1e3", "1e3", 1_000_000, 1000),
    ("1E3", "1e3", 1_000_000, 1000),
    ("1e+3", "1e3", 1_000_000, 1000),
    ("1.5e3", "1500", 1_500_000, 1500),
    ("1e-3", "1e-3", 1, 1),
    ("5e-1", "500e-3", 500, 1),
    ("1E", "1E", 10**21, 10**18),
    ("+1", "1", 1000, 1),
    ("-1", "-1", -1000, -1),
    ("Gi", "0", 0, 0),
    ("m", "0", 0, 0),
    (".", "0", 0, 0),
    ("+", "0", 0, 0),
    ("-", "0", 0, 0),
    ("1.", "1", 1000, 1),
    ("1.G", "1G", 10**12, 10**9),
    ("007", "7", 7000, 7),
    ("8Ei", "9223372036854775807", INT64_MAX * 1000, INT64_MAX),
    ("16Ei", "9223372036854775807", INT64_MAX * 1000, INT64_MAX),
    ("9223372036854775808", "9223372036854775808", 9223372036854775808000, 9223372036854775808),
    ("1024Mi", "1Gi", 1_073_741_824_000, 1_073_741_824),
    ("2000m", "2", 2000, 2),
    ("0", "0", 0, 0),
    ("1000E", "1e21", 10**24, 10**21),
    ("1e-10", "1e-9", 1, 1),
    ("-1.5", "-1500m", -1500, -2),
]

FORMAT_ERRORS = ["1GB", "1gb", "1Mb", "1KiB", "1 Gi", "0x10", "1_000", "1.2.3", "", " 1", "1 ", "1e3 ", "abc"]
SUFFIX_ERRORS = ["1K", "1e", "1mi", "1ki", "--1", "1Mi1", "1e-", "1Ee3", "1E+", "1-"]


@pytest.mark.parametrize(("text", "canonical", "millis", "whole"), TABLE)
def test_table(text: str, canonical: str, millis: int, whole: int) -> None:
    q = parse_quantity(text)
    assert q.canonical() == canonical
    assert str(q) == canonical
    assert q.milli_value() == millis
    assert q.whole_value() == whole


@pytest.mark.parametrize("text", FORMAT_ERRORS)
def test_shape_errors_have_the_upstream_text(text: str) -> None:
    with pytest.raises(QuantityError) as info:
        parse_quantity(text)
    assert info.value.reason == ERR_FORMAT
    assert info.value.text == text
    assert str(info.value) == f"{ERR_FORMAT}: {text!r}"


@pytest.mark.parametrize("text", SUFFIX_ERRORS)
def test_suffix_errors_have_the_upstream_text(text: str) -> None:
    with pytest.raises(QuantityError) as info:
        parse_quantity(text)
    assert str(info.value) == f"unable to parse quantity's suffix: {text!r}"


def test_error_texts_are_exactly_upstream() -> None:
    assert ERR_FORMAT == "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    assert ERR_SUFFIX == "unable to parse quantity's suffix"
    assert issubclass(QuantityError, ValueError)


def test_formats_are_remembered() -> None:
    assert parse_quantity("1Gi").format == BINARY_SI
    assert parse_quantity("1G").format == DECIMAL_SI
    assert parse_quantity("1e9").format == DECIMAL_EXPONENT
    assert parse_quantity("0.0001Ki").format == DECIMAL_SI  # non-zero binary below one becomes decimal
    assert parse_quantity("0.0001Ki").value == Fraction(1024, 10**4)


def test_exact_values_and_nano_rounding() -> None:
    assert parse_quantity("0.1m").value == Fraction(1, 10_000)
    assert parse_quantity("1.1Ki").value == Fraction(56320, 50)
    assert parse_quantity("0.0000000001").value == Fraction(1, 10**9)
    assert parse_quantity("-0.0000000001").value == Fraction(-1, 10**9)
    assert parse_quantity("1.0000000001").value == Fraction(1_000_000_001, 10**9)
    assert parse_quantity("1e-999999999").value == Fraction(1, 10**9)
    assert parse_quantity("0.00000000000000000000000000000001Ei").value == Fraction(1, 10**9)
    # 1e-12 * 2^60 = 1152921.504606846976, rounded up to whole nano-units
    assert parse_quantity("0.000000000001Ei").value == Fraction(1152921504606847, 10**9)
    assert parse_quantity("100000000000000000000000000000000000Ki").value == INT64_MAX


def test_huge_decimal_values_are_kept_or_rejected() -> None:
    assert parse_quantity("1e100").value == 10**100
    with pytest.raises(QuantityError, match="too large"):
        parse_quantity("1e999999999")
    with pytest.raises(QuantityError, match="longer than 1000 characters"):
        parse_quantity("1" * 1001)


def test_json_numbers_use_their_literal_text() -> None:
    assert parse_quantity(35).value == 35
    assert parse_quantity(0.5).canonical() == "500m"
    assert parse_quantity(1e-05).canonical() == "10e-6"  # repr is "1e-05"
    assert parse_quantity(1e16).value == 10**16  # repr is "1e+16"
    assert cpu_millis(2) == 2000
    assert cpu_millis(0.25) == 250
    assert memory_bytes(1024) == 1024
    for bad in (True, None, float("inf"), float("nan"), [1], {"a": 1}):
        with pytest.raises(QuantityError):
            parse_quantity(bad)  # type: ignore[arg-type]


def test_outer_whitespace_is_not_trimmed() -> None:
    with pytest.raises(QuantityError):
        parse_quantity(" 500m")
    assert parse_quantity(" 500m".strip()).milli_value() == 500


def test_cache_returns_the_same_object() -> None:
    assert parse_quantity("123Mi") is parse_quantity("123Mi")
    assert parse_quantity(1) is not parse_quantity(1.0)  # typed cache: literal texts differ


def test_cpu_and_memory_helpers() -> None:
    assert cpu_millis("500m") == 500
    assert cpu_millis("0.1m") == 1
    assert cpu_millis("1") == 1000
    assert cpu_millis("16") == 16000
    assert memory_bytes("1Gi") == 1_073_741_824
    assert memory_bytes("1.1Ki") == 1127
    assert memory_bytes("128m") == 1
    assert memory_bytes("8Ei") == INT64_MAX
    with pytest.raises(QuantityError, match="int64 range"):
        cpu_millis("8Ei")
    with pytest.raises(QuantityError, match="int64 range"):
        memory_bytes("1e19")
    with pytest.raises(QuantityError):
        cpu_millis("1K")


def test_per_pod_rounding_of_exact_sums() -> None:
    half_milli = parse_quantity("0.5m").value
    assert ceil_millis(half_milli + half_milli) == 1
    assert parse_quantity("0.5m").milli_value() * 2 == 2  # per-container rounding would give 2
    half_byte = parse_quantity("0.5").value
    assert ceil_whole(half_byte + half_byte) == 1
    assert ceil_whole(Fraction(3, 2)) == 2
    assert ceil_whole(Fraction(-3, 2)) == -2
    assert ceil_millis(Fraction(-3, 2000)) == -1
    assert ceil_millis(Fraction(0)) == 0


@pytest.mark.parametrize(
    ("millis", "text"),
    [(500, "500m"), (2000, "2"), (16500, "16500m"), (0, "0"), (1, "1m"), (1500000, "1500"), (3000000, "3k"),
     (250, "250m"), (100, "100m")],
)  # fmt: skip
def test_format_cpu(millis: int, text: str) -> None:
    assert format_cpu(millis) == text
    assert cpu_millis(text) == millis


@pytest.mark.parametrize(
    ("n_bytes", "text"),
    [(268435456, "256Mi"), (1610612736, "1536Mi"), (1073741824, "1Gi"), (1024, "1Ki"), (0, "0"),
     (1000, "1k"), (1500, "1500"), (1000000000, "1G"), (512, "512"), (129000000, "129M")],
)  # fmt: skip
def test_format_memory(n_bytes: int, text: str) -> None:
    assert format_memory(n_bytes) == text
    assert memory_bytes(text) == n_bytes


def test_quantity_is_frozen() -> None:
    q = Quantity(Fraction(1), DECIMAL_SI)
    with pytest.raises(AttributeError):
        q.value = Fraction(2)  # type: ignore[misc]
    assert q.canonical() == "1"
