"""Is 32 bytes a usable Ed25519 public key? RFC 8032 point decoding plus a small-order check.

OpenSSL loads any 32 bytes as a public key; a point that does not decode, or one of small order
(with which a forger can match a signature by chance, one try in eight), must be refused when
a `whpk_` key is registered. Pure Python, run at registration only.
"""

from __future__ import annotations

from typing import Final

_P: Final = 2**255 - 19
_D: Final = (-121665 * pow(121666, _P - 2, _P)) % _P
_SQRT_M1: Final = pow(2, (_P - 1) // 4, _P)

Point = tuple[int, int]


def _decode(raw: bytes) -> Point | None:
    if len(raw) != 32:
        return None
    number = int.from_bytes(raw, "little")
    sign = number >> 255
    y = number & ((1 << 255) - 1)
    if y >= _P:
        return None
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x = (u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P)) % _P
    if (v * x * x - u) % _P != 0:
        if (v * x * x + u) % _P != 0:
            return None
        x = (x * _SQRT_M1) % _P
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = _P - x
    return x, y


def _add(a: Point, b: Point) -> Point:
    (x1, y1), (x2, y2) = a, b
    t = (_D * x1 * x2 * y1 * y2) % _P
    x3 = ((x1 * y2 + x2 * y1) * pow(1 + t, _P - 2, _P)) % _P
    y3 = ((y1 * y2 + x1 * x2) * pow(1 - t, _P - 2, _P)) % _P
    return x3, y3


def is_valid_public_key(raw: bytes) -> bool:
    """True when `raw` decodes to a curve point whose order is not small (8 * P is not the identity)."""
    point = _decode(raw)
    if point is None:
        return False
    for _ in range(3):
        point = _add(point, point)
    return point != (0, 1)
