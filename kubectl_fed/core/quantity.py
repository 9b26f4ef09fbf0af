"""Kubernetes resource quantities (`500m`, `16Gi`, `1e3`), exactly: parsed into fractions,
added and subtracted, and printed in apimachinery's canonical form.

As `resource.Quantity` (k8s.io/apimachinery/pkg/api/resource): the suffix chooses the
format (binary `Ki`..`Ei`, decimal `n`..`E` or none, or an `e<exponent>`); a value is kept
to the nanounit, rounded up beyond that; a sum keeps the format of its first operand
unless that one is zero. Printing: decimal values with the largest exponent that is a
multiple of 3 and keeps the number whole (`7500m`, `8`, `8k`); binary ones as a whole
number of the largest power of 1024 (`16Gi`, `1536Mi`), except magnitudes under 1024 and
values that are not whole, which print as decimal.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

BINARY, DECIMAL, EXPONENT = "BinarySI", "DecimalSI", "DecimalExponent"
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIXES = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_DECIMAL_BY_EXPONENT = {e: s for s, e in _DECIMAL_SUFFIXES.items()}
_QUANTITY = re.compile(
    r"^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$"
)
_NANO = Fraction(1, 10**9)


class QuantityError(ValueError):
    pass


@dataclass(frozen=True)
class Quantity:
    value: Fraction
    format: str = DECIMAL

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + other.value, self._format_with(other))

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, self._format_with(other))

    def _format_with(self, other: Quantity) -> str:
        return other.format if self.value == 0 else self.format

    def __str__(self) -> str:
        return canonical(self.value, self.format)


ZERO = Quantity(Fraction(0))


def parse_quantity(text: str) -> Quantity:
    """`500m`, `16Gi`, `1e3`, `2` -> a Quantity; QuantityError on anything else."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise QuantityError(f"quantities must match the regular expression: {text!r}")
    number, suffix = Fraction(match.group(1)), match.group(2)
    if suffix in _BINARY_SUFFIXES:
        value, fmt = number * 2 ** _BINARY_SUFFIXES[suffix], BINARY
    elif suffix[:1] in ("e", "E") and len(suffix) > 1:
        value, fmt = number * Fraction(10) ** int(suffix[1:]), EXPONENT
    else:
        value, fmt = number * Fraction(10) ** _DECIMAL_SUFFIXES[suffix], DECIMAL
    return Quantity(_to_nano(value), fmt)


def canonical(value: Fraction, fmt: str) -> str:
    if value == 0:
        return "0"
    if fmt == BINARY and abs(value) >= 1024 and value.denominator == 1:
        return _binary(int(value))
    mantissa, exponent = _decimal_parts(value)
    if fmt == EXPONENT:
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    suffix = _DECIMAL_BY_EXPONENT.get(exponent)
    return f"{mantissa}{suffix}" if suffix is not None else f"{mantissa}e{exponent}"


def _binary(value: int) -> str:
    power = 0
    while value % 1024 == 0 and power < 60:
        value //= 1024
        power += 10
    return f"{value}{next((s for s, p in _BINARY_SUFFIXES.items() if p == power), '')}"


def _decimal_parts(value: Fraction) -> tuple[int, int]:
    """(mantissa, exponent): value = mantissa * 10**exponent, exponent a multiple of 3, as
    large as keeps the mantissa whole."""
    exponent = -9
    mantissa = int(value / Fraction(10) ** exponent)  # whole: values are kept to 1n
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3  # down to a multiple of 3 (Python's % is never negative here)
    return mantissa * 10**shift, exponent - shift


def _to_nano(value: Fraction) -> Fraction:
    """Kept to the nanounit, rounded up (away from zero for negatives, as apimachinery)."""
    nanos = value / _NANO
    rounded = math.ceil(nanos) if value >= 0 else math.floor(nanos)
    return Fraction(rounded) * _NANO
