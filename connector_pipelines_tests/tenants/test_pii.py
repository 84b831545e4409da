from __future__ import annotations

import base64

import pytest

from connector_pipelines.store.ingestion.keys import PiiUnavailableError
from connector_pipelines.tenants.crypto import Keyring, generate_key
from connector_pipelines.tenants.pii import PiiKeys, TenantPiiCipher, normalize_email


def _keys(current: str, *old: str) -> PiiKeys:
    return PiiKeys(Keyring(base64.b64decode(current), [base64.b64decode(k) for k in old]))


def _cipher(keys: PiiKeys, tenant: str = "acme") -> TenantPiiCipher:
    return keys.cipher(tenant, keys.new_key(tenant))


def test_seal_and_open_round_trip_without_plaintext() -> None:
    cipher = _cipher(_keys(generate_key()))
    blob = cipher.seal(b'{"email":"zelda@example.org"}', "customer:1")
    assert b"zelda" not in blob
    assert blob[:4].hex() == cipher.key_id
    assert cipher.open(blob, "customer:1") == b'{"email":"zelda@example.org"}'
    assert cipher.seal(b"x", "customer:1") != cipher.seal(b"x", "customer:1"), "a fresh nonce each time"


def test_a_ciphertext_is_bound_to_its_record_and_tenant() -> None:
    keys = _keys(generate_key())
    wrapped = keys.new_key("acme")
    blob = keys.cipher("acme", wrapped).seal(b"secret", "customer:1")
    with pytest.raises(PiiUnavailableError, match=r"^tenant 'acme': the personal data of customer:2 failed"):
        keys.cipher("acme", wrapped).open(blob, "customer:2")
    with pytest.raises(PiiUnavailableError, match=r"^tenant 'globex': the personal-data key"):
        keys.cipher("globex", wrapped)
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(PiiUnavailableError, match="failed authentication"):
        keys.cipher("acme", wrapped).open(bytes(tampered), "customer:1")
    with pytest.raises(PiiUnavailableError, match="truncated"):
        keys.cipher("acme", wrapped).open(blob[:20], "customer:1")


def test_a_ciphertext_of_another_data_key_says_so() -> None:
    keys = _keys(generate_key())
    old, new = _cipher(keys), _cipher(keys)
    blob = old.seal(b"secret", "customer:1")
    with pytest.raises(PiiUnavailableError) as info:
        new.open(blob, "customer:1")
    assert f"sealed with data key {old.key_id}, which no longer exists" in str(info.value)


def test_email_hash_normalises_and_is_keyed_per_tenant() -> None:
    keys = _keys(generate_key())
    acme, globex = _cipher(keys, "acme"), _cipher(keys, "globex")
    assert normalize_email("  Zelda@Example.ORG ") == "zelda@example.org"
    assert acme.email_hash("Zelda@Example.ORG ") == acme.email_hash("zelda@example.org")
    assert acme.email_hash("zelda@example.org") != globex.email_hash("zelda@example.org")
    assert acme.email_hash("a@example.org") != acme.email_hash("b@example.org")
    assert acme.digest(b"record") != acme.email_hash("record"), "one key per purpose"


def test_rewrap_keeps_the_data_key_under_the_new_master_key() -> None:
    old_master, new_master = generate_key(), generate_key()
    wrapped = _keys(old_master).new_key("acme")
    blob = _keys(old_master).cipher("acme", wrapped).seal(b"secret", "customer:1")
    rewrapped = _keys(new_master, old_master).rewrap("acme", wrapped)
    assert rewrapped.key_id == wrapped.key_id
    assert rewrapped.master_key_id == _keys(new_master).master_key_id != wrapped.master_key_id
    assert _keys(new_master).cipher("acme", rewrapped).open(blob, "customer:1") == b"secret"
    assert _keys(new_master).rewrap("acme", rewrapped) is rewrapped, "already under the current key"


def test_a_missing_master_key_is_named_not_shown() -> None:
    old_master = generate_key()
    wrapped = _keys(old_master).new_key("acme")
    with pytest.raises(PiiUnavailableError) as info:
        _keys(generate_key()).cipher("acme", wrapped)
    message = str(info.value)
    assert message.startswith(f"tenant 'acme': the personal-data key {wrapped.key_id} cannot be unwrapped")
    assert (
        f"remedy: add the master key with id {wrapped.master_key_id} to CONNECTOR_ENCRYPTION_KEYS_OLD"
        in message
    )
    assert old_master not in message


def test_keys_come_from_the_environment() -> None:
    keys = PiiKeys.from_env()
    assert keys.master_key_id == Keyring.from_env().current_id
