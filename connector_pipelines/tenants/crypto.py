"""AES-256-GCM encryption of tenant credentials.

Each ciphertext is bound to its tenant and system through the associated data, so a row copied to
another tenant (or system) fails to decrypt. Keys come from the environment; each ciphertext stores the id
of its key so old keys can be rotated out (``CONNECTOR_ENCRYPTION_KEYS_OLD`` stays readable).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connector_pipelines import errors
from connector_pipelines.config import ENCRYPTION_KEY_VAR, OLD_KEYS_VAR

NONCE_BYTES = 12
TAG_BYTES = 16


_KEY_REMEDY = f"set it to base64 of 32 random bytes, e.g. from `{errors.CLI} keys generate`"
_OLD_KEY_REMEDY = "correct or remove that entry: old keys are the keys earlier credentials were stored with"


class KeyConfigError(errors.PermanentError):
    """The encryption key environment is missing or malformed."""


class DecryptionError(errors.PermanentError):
    """A ciphertext could not be decrypted: wrong key, tampered data, or moved to another tenant."""


def generate_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"connector-key-id:" + key).hexdigest()[:12]


def _decode_key(value: str, variable: str, position: str = "", remedy: str = _KEY_REMEDY) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(
            f"{variable}{position} is not valid base64 (expected base64 of 32 bytes)", remedy=remedy
        ) from None
    if len(key) != 32:
        raise KeyConfigError(
            f"{variable}{position} decodes to {len(key)} bytes; AES-256 needs 32", remedy=remedy
        )
    return key


def associated_data(tenant: str, system: str) -> bytes:
    return f"connector_pipelines:credentials:{tenant}:{system}".encode()


@dataclass(frozen=True)
class Sealed:
    key_id: str
    blob: bytes  # nonce || ciphertext || tag


class Keyring:
    """The current key (encrypts) and any old keys (decrypt only)."""

    def __init__(self, current: bytes, old: list[bytes] | None = None) -> None:
        self.current_id = key_id(current)
        self._keys: dict[str, AESGCM] = {self.current_id: AESGCM(current)}
        for key in old or []:
            self._keys.setdefault(key_id(key), AESGCM(key))

    @classmethod
    def from_env(cls) -> Keyring:
        value = os.environ.get(ENCRYPTION_KEY_VAR, "")
        if not value.strip():
            raise KeyConfigError(f"{ENCRYPTION_KEY_VAR} is not set", remedy=_KEY_REMEDY)
        current = _decode_key(value, ENCRYPTION_KEY_VAR)
        old_values = [v for v in os.environ.get(OLD_KEYS_VAR, "").split(",") if v.strip()]
        old = [
            _decode_key(v, OLD_KEYS_VAR, f" entry {i + 1}", _OLD_KEY_REMEDY) for i, v in enumerate(old_values)
        ]
        return cls(current, old)

    def encrypt(self, plaintext: bytes, tenant: str, system: str) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + self._keys[self.current_id].encrypt(nonce, plaintext, associated_data(tenant, system))
        return Sealed(self.current_id, blob)

    def decrypt(self, sealed: Sealed, tenant: str, system: str) -> bytes:
        store_again = errors.set_credentials_remedy(tenant, system, verb="store the")
        aead = self._keys.get(sealed.key_id)
        if aead is None:
            raise DecryptionError(
                f"the stored credentials were encrypted with key id {sealed.key_id}, which is neither "
                f"{ENCRYPTION_KEY_VAR} nor in {OLD_KEYS_VAR}",
                tenant=tenant,
                system=system,
                remedy=f"add the key they were stored with to {OLD_KEYS_VAR}, or {store_again}",
            )
        if len(sealed.blob) < NONCE_BYTES + TAG_BYTES:
            # AESGCM would refuse the short nonce with a bare ValueError.
            raise DecryptionError(
                f"the stored credentials are truncated: {len(sealed.blob)} bytes cannot hold nonce and tag",
                tenant=tenant,
                system=system,
                remedy=store_again,
            )
        nonce, body = sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:]
        try:
            return aead.decrypt(nonce, body, associated_data(tenant, system))
        except InvalidTag:
            raise DecryptionError(
                "the stored credentials failed authentication: the ciphertext was altered or belongs to "
                "another tenant",
                tenant=tenant,
                system=system,
                remedy=store_again,
            ) from None
