"""Order references such as K7Q2: short, unambiguous to read aloud, and not sequential.

A reference is the order id, scrambled by a fixed bijection and written in Crockford's base 32
(no I, L, O or U). Buyers then cannot read the shop's sales volume off consecutive orders, and
the id is recovered from the reference without a lookup table.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {char: value for value, char in enumerate(ALPHABET)}
_MIN_LENGTH = 4
# 12 characters hold 60 bits: any longer would name an id past SQLite's 64-bit integers.
_MAX_LENGTH = 12
# An odd multiplier is invertible modulo any power of two; the offset hides order id 1.
_MULTIPLIER = 0x5DEECE66D | 1
_OFFSET = 0x2545F491


def _bits(length: int) -> int:
    return 5 * length


def _length_for(order_id: int) -> int:
    length = _MIN_LENGTH
    while order_id >= 1 << _bits(length):
        length += 1
    return length


def reference_for(order_id: int) -> str:
    """The reference buyers and the owner see for an order id (>= 1)."""
    if order_id < 1:
        raise ValueError("order ids start at 1")
    length = _length_for(order_id)
    modulus = 1 << _bits(length)
    value = (order_id * _MULTIPLIER + _OFFSET) % modulus
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def order_id_for(reference: str) -> int | None:
    """The order id a reference stands for; None when it is not a reference we would make."""
    text = reference.strip().lstrip("#").upper()
    if not _MIN_LENGTH <= len(text) <= _MAX_LENGTH or any(char not in _DECODE for char in text):
        return None
    value = 0
    for char in text:
        value = value * 32 + _DECODE[char]
    modulus = 1 << _bits(len(text))
    order_id = ((value - _OFFSET) * pow(_MULTIPLIER, -1, modulus)) % modulus
    if order_id < 1 or _length_for(order_id) != len(text):
        return None
    return order_id
