"""API key format: generation, offline checks (checksum catches every single-character typo), hashing."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from gatehouse.keys import api_key_format as fmt


def test_generated_keys_have_the_fixed_shape_and_validate():
    keys = {fmt.generate("live") for _ in range(200)}
    assert len(keys) == 200  # no repeats
    for key in keys:
        assert len(key) == fmt.KEY_LENGTH == 42
        assert key.startswith("gk_live_")
        assert fmt.looks_like_api_key(key)
        assert fmt.validate_format(key)
        assert fmt.validate_format(key, "live")
        assert fmt.key_environment(key) == "live"


def test_random_part_carries_at_least_160_bits():
    import math

    assert fmt.RANDOM_LENGTH * math.log2(62) >= 160


def test_environment_is_checked():
    key = fmt.generate("test")
    assert fmt.validate_format(key, "test")
    assert not fmt.validate_format(key, "live")
    with pytest.raises(ValueError):
        fmt.generate("prod")


def test_checksum_catches_every_single_character_typo():
    for _ in range(20):
        key = fmt.generate("test")
        for position in range(8, len(key)):  # the random part and the checksum
            for replacement in fmt.BASE62:
                if replacement == key[position]:
                    continue
                typo = key[:position] + replacement + key[position + 1 :]
                assert not fmt.validate_format(typo), (position, replacement)


def test_adjacent_transpositions_are_caught():
    key = fmt.generate("test")
    for i in range(8, len(key) - 1):
        if key[i] != key[i + 1]:
            swapped = key[:i] + key[i + 1] + key[i] + key[i + 2 :]
            assert not fmt.validate_format(swapped)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "gk_",
        "gk_test_",
        "gk_prod_" + "A" * 34,
        "gk_test_" + "A" * 33,
        "gk_test_" + "A" * 35,
        "gk_test_" + "A" * 33 + "-",
        "gk_test_" + "A" * 33 + "é",
        "GK_test_" + "A" * 34,
        "eyJhbGciOiJIUzI1NiJ9.e30.sig",
    ],
)
def test_malformed_tokens_are_refused(token):
    assert not fmt.validate_format(token)


def test_checksum_is_zero_padded_base62_of_crc32():
    import zlib

    key = fmt.generate("live")
    body, check = key[:-6], key[-6:]
    value = 0
    for char in check:
        value = value * 62 + fmt.BASE62.index(char)
    assert value == zlib.crc32(body.encode())
    assert fmt.checksum("") == "000000"


def test_hash_is_sha256_or_hmac_with_pepper():
    key = fmt.generate("test")
    assert fmt.hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    peppered = fmt.hash_key(key, "pepper")
    assert peppered == hmac.new(b"pepper", key.encode(), hashlib.sha256).hexdigest()
    assert peppered != fmt.hash_key(key)


def test_prefix_is_the_first_twelve_characters():
    key = fmt.generate("live")
    assert fmt.prefix(key) == key[:12]
    assert fmt.prefix(key).startswith("gk_live_")
