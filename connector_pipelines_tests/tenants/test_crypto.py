from __future__ import annotations

import pytest

from connector_pipelines.tenants.crypto import DecryptionError, KeyConfigError, Keyring, Sealed, generate_key


def _keyring(monkeypatch: pytest.MonkeyPatch, key: str, old: str = "") -> Keyring:
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", key)
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEYS_OLD", old)
    return Keyring.from_env()


def test_round_trip_and_no_plaintext(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = _keyring(monkeypatch, generate_key())
    sealed = ring.encrypt(b'{"password": "s3cret-value"}', "acme", "plentymarkets")
    assert b"s3cret-value" not in sealed.blob
    assert ring.decrypt(sealed, "acme", "plentymarkets") == b'{"password": "s3cret-value"}'
    again = ring.encrypt(b'{"password": "s3cret-value"}', "acme", "plentymarkets")
    assert again.blob != sealed.blob, "a fresh nonce per encryption"


def test_tampered_ciphertext_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = _keyring(monkeypatch, generate_key())
    sealed = ring.encrypt(b"secret", "acme", "shopware6")
    flipped = bytearray(sealed.blob)
    flipped[-1] ^= 0x01
    with pytest.raises(DecryptionError, match=r"^tenant 'acme', shopware6: .*altered"):
        ring.decrypt(Sealed(sealed.key_id, bytes(flipped)), "acme", "shopware6")


def test_ciphertext_moved_to_another_tenant_or_system_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = _keyring(monkeypatch, generate_key())
    sealed = ring.encrypt(b"secret", "acme", "shopware6")
    with pytest.raises(DecryptionError, match="tenant 'globex'"):
        ring.decrypt(sealed, "globex", "shopware6")
    with pytest.raises(DecryptionError, match=r"^tenant 'acme', plentymarkets: "):
        ring.decrypt(sealed, "acme", "plentymarkets")


def test_wrong_key_names_tenant_and_system_and_leaks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    key_a, key_b = generate_key(), generate_key()
    sealed = _keyring(monkeypatch, key_a).encrypt(b"the-plaintext", "acme", "shopify")
    with pytest.raises(DecryptionError) as info:
        _keyring(monkeypatch, key_b).decrypt(sealed, "acme", "shopify")
    message = str(info.value)
    assert message.startswith("tenant 'acme', shopify: ")
    assert "— remedy: add the key they were stored with to CONNECTOR_ENCRYPTION_KEYS_OLD" in message
    assert message.endswith("`connector-pipelines tenants set-credentials acme shopify`")
    assert key_a not in message and key_b not in message and "the-plaintext" not in message


def test_old_keys_stay_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = generate_key(), generate_key()
    sealed = _keyring(monkeypatch, old).encrypt(b"x", "acme", "shopify")
    ring = _keyring(monkeypatch, new, old=f" {old} ")
    assert ring.decrypt(sealed, "acme", "shopify") == b"x"
    assert ring.encrypt(b"x", "acme", "shopify").key_id == ring.current_id != sealed.key_id


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "CONNECTOR_ENCRYPTION_KEY is not set"),
        ("not base64!!", "CONNECTOR_ENCRYPTION_KEY is not valid base64"),
        ("c2hvcnQ=", "CONNECTOR_ENCRYPTION_KEY decodes to 5 bytes"),
    ],
)
def test_missing_or_malformed_key_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", value)
    with pytest.raises(KeyConfigError, match=message):
        Keyring.from_env()


def test_malformed_old_key_names_its_position(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KeyConfigError, match="CONNECTOR_ENCRYPTION_KEYS_OLD entry 2"):
        _keyring(monkeypatch, generate_key(), old=f"{generate_key()},bad")
