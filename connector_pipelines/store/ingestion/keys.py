"""What the ingestion store needs from PII crypto, as protocols: the store keeps wrapped data keys and
ciphertexts, ``tenants.pii`` implements the crypto (``tenants/`` sits above ``store/``, so the store names
the interface and the caller passes the implementation: ``IngestionRepository(db, PiiKeys.from_env())``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from connector_pipelines import errors


@dataclass(frozen=True)
class WrappedKey:
    """A tenant's data key as stored: sealed by the master key ``master_key_id``. ``key_id`` names the data
    key itself and is stamped into every ciphertext sealed with it."""

    key_id: str
    master_key_id: str
    blob: bytes


class PiiCipher(Protocol):
    """Seals and opens one tenant's personal data. ``record`` names what a ciphertext belongs to (for
    example ``customer:42``): it is bound to the ciphertext together with the tenant, so a ciphertext
    copied to another record or tenant fails to open."""

    @property
    def tenant(self) -> str: ...

    @property
    def key_id(self) -> str: ...

    def seal(self, plaintext: bytes, record: str) -> bytes: ...

    def open(self, blob: bytes, record: str) -> bytes: ...

    def email_hash(self, email: str) -> bytes:
        """The keyed hash of the normalised email: equal addresses, equal hash, within one tenant only."""
        ...

    def digest(self, data: bytes) -> bytes:
        """A keyed hash of a whole record, to recognise an unchanged record without storing it in clear."""
        ...


class PiiKeyService(Protocol):
    def new_key(self, tenant: str) -> WrappedKey: ...

    def cipher(self, tenant: str, wrapped: WrappedKey) -> PiiCipher: ...

    def rewrap(self, tenant: str, wrapped: WrappedKey) -> WrappedKey:
        """The same data key wrapped by the current master key (the ciphertexts stay as they are)."""
        ...

    @property
    def master_key_id(self) -> str:
        """The id of the master key that wraps new keys."""
        ...


class PiiUnavailableError(errors.PermanentError, LookupError):
    """Personal data cannot be read: the tenant's data key or the customer's data was destroyed
    (crypto-shredding), the master key that wrapped the data key is missing, or a ciphertext was altered or
    moved. The message names the tenant and the record, never the data."""
