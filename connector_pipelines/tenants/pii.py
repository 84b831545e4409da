"""Encryption of the personal data the ingestion pipelines store (customers' emails, names, phones,
addresses).

Envelope encryption. Each tenant has a random 256-bit data key; the master key (``CONNECTOR_ENCRYPTION_KEY``,
the :class:`~connector_pipelines.tenants.crypto.Keyring` that also seals credentials) only wraps it. Rotating
the master key therefore re-wraps one small key per tenant and leaves every row as it is; destroying a
tenant's data key makes all of its ciphertexts unreadable at once (crypto-shredding).

From the data key, HKDF-SHA256 derives three keys, so that none is used for two purposes:

* AES-256-GCM for the personal data. A ciphertext is ``data key id (4 bytes) || nonce (12) || ciphertext ||
  tag (16)``; its associated data names the tenant and the record (``customer:42``), so a ciphertext moved
  to another customer or tenant fails to open, and the key id tells a ciphertext of a destroyed key from a
  tampered one.
* HMAC-SHA256 of the normalised email (trimmed, lower case), stored next to the ciphertext and indexed: a
  customer is found and deduplicated by email without decrypting, and the hash means nothing outside the
  tenant.
* HMAC-SHA256 over a whole record, to recognise an unchanged record without keeping it in clear.

One :class:`AESGCM` object per tenant key, reused for every record: building it costs more than sealing a
small record. Nonces are random, drawn from the OS a few hundred at a time: one system call per record would
give the interpreter lock away (and wait to get it back) a hundred thousand times a backfill.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from connector_pipelines.config import ENCRYPTION_KEY_VAR, OLD_KEYS_VAR
from connector_pipelines.store.ingestion.keys import PiiUnavailableError, WrappedKey
from connector_pipelines.tenants.crypto import DecryptionError, Keyring, Sealed

DATA_KEY_BYTES = 32
KEY_ID_BYTES = 4
NONCE_BYTES = 12
TAG_BYTES = 16
_HEADER = KEY_ID_BYTES + NONCE_BYTES
NONCE_POOL = 256  # nonces drawn from the OS at once


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _wrap_context(key_id: str) -> str:
    # The Keyring binds a sealed value to (tenant, "system"): here the system is the data key's own id, so
    # a wrapped key copied to another tenant or swapped for another key id fails to unwrap.
    return f"pii-data-key:{key_id}"


def _derive(data_key: bytes, purpose: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"connector_pipelines:pii:" + purpose
    ).derive(data_key)


class TenantPiiCipher:
    """Seals and opens the personal data of one tenant with its (unwrapped) data key."""

    def __init__(self, tenant: str, key_id: str, data_key: bytes) -> None:
        self._tenant = tenant
        self._key_id = key_id
        self._key_id_bytes = bytes.fromhex(key_id)
        self._aead = AESGCM(_derive(data_key, b"aes-256-gcm"))
        self._email_key = _derive(data_key, b"email-hash")
        self._digest_key = _derive(data_key, b"record-digest")
        self._aad_prefix = f"connector_pipelines:pii:{tenant}:"
        self._nonces: list[bytes] = []
        self._nonce_lock = threading.Lock()

    @property
    def tenant(self) -> str:
        return self._tenant

    @property
    def key_id(self) -> str:
        return self._key_id

    def _nonce(self) -> bytes:
        """A fresh random nonce, never handed out twice (the pool is taken under a lock)."""
        with self._nonce_lock:
            if not self._nonces:
                pool = os.urandom(NONCE_BYTES * NONCE_POOL)
                self._nonces = [pool[i : i + NONCE_BYTES] for i in range(0, len(pool), NONCE_BYTES)]
            return self._nonces.pop()

    def seal(self, plaintext: bytes, record: str) -> bytes:
        nonce = self._nonce()
        aad = (self._aad_prefix + record).encode()
        return self._key_id_bytes + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, record: str) -> bytes:
        if len(blob) < _HEADER + TAG_BYTES:
            raise PiiUnavailableError(
                f"the personal data of {record} is truncated ({len(blob)} bytes cannot hold key id, nonce "
                "and tag)",
                tenant=self._tenant,
            )
        blob_key_id = blob[:KEY_ID_BYTES].hex()
        if blob_key_id != self._key_id:
            raise PiiUnavailableError(
                f"the personal data of {record} was sealed with data key {blob_key_id}, which no longer "
                f"exists (the tenant's data key is now {self._key_id}): it was destroyed by crypto-shredding",
                tenant=self._tenant,
            )
        nonce = blob[KEY_ID_BYTES:_HEADER]
        try:
            return self._aead.decrypt(nonce, blob[_HEADER:], (self._aad_prefix + record).encode())
        except InvalidTag:
            raise PiiUnavailableError(
                f"the personal data of {record} failed authentication: the ciphertext was altered or "
                "belongs to another record or tenant",
                tenant=self._tenant,
            ) from None

    def email_hash(self, email: str) -> bytes:
        return hmac.digest(self._email_key, normalize_email(email).encode(), "sha256")

    def digest(self, data: bytes) -> bytes:
        return hmac.digest(self._digest_key, data, "sha256")


class PiiKeys:
    """Creates, unwraps and re-wraps tenants' data keys with the master :class:`Keyring`."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    @classmethod
    def from_env(cls) -> PiiKeys:
        return cls(Keyring.from_env())

    @property
    def master_key_id(self) -> str:
        return self._keyring.current_id

    def new_key(self, tenant: str) -> WrappedKey:
        key_id = secrets.token_hex(KEY_ID_BYTES)
        sealed = self._keyring.encrypt(secrets.token_bytes(DATA_KEY_BYTES), tenant, _wrap_context(key_id))
        return WrappedKey(key_id=key_id, master_key_id=sealed.key_id, blob=sealed.blob)

    def cipher(self, tenant: str, wrapped: WrappedKey) -> TenantPiiCipher:
        return TenantPiiCipher(tenant, wrapped.key_id, self._unwrap(tenant, wrapped))

    def rewrap(self, tenant: str, wrapped: WrappedKey) -> WrappedKey:
        if wrapped.master_key_id == self._keyring.current_id:
            return wrapped
        sealed = self._keyring.encrypt(self._unwrap(tenant, wrapped), tenant, _wrap_context(wrapped.key_id))
        return WrappedKey(key_id=wrapped.key_id, master_key_id=sealed.key_id, blob=sealed.blob)

    def _unwrap(self, tenant: str, wrapped: WrappedKey) -> bytes:
        try:
            return self._keyring.decrypt(
                Sealed(wrapped.master_key_id, wrapped.blob), tenant, _wrap_context(wrapped.key_id)
            )
        except DecryptionError:
            raise PiiUnavailableError(
                f"the personal-data key {wrapped.key_id} cannot be unwrapped: it was wrapped with master "
                f"key id {wrapped.master_key_id}, which is neither {ENCRYPTION_KEY_VAR} nor in "
                f"{OLD_KEYS_VAR}, or the wrapped key was altered",
                tenant=tenant,
                remedy=f"add the master key with id {wrapped.master_key_id} to {OLD_KEYS_VAR}",
            ) from None
