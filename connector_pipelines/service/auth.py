"""API tokens: JWTs (HS256, PyJWT) naming a subject, a role and the tenants they may touch.

Signing keys live in the connector database (``service_signing_keys``), each sealed with the connector's
encryption key (AES-256-GCM, ``CONNECTOR_ENCRYPTION_KEY``) and named by a key id, the ``kid`` of every token
it signs. The newest active key signs; every active key verifies, so a rotation (``tokens rotate-key``)
leaves the tokens already issued valid until their key is retired (``tokens retire-key``), which refuses them
from then on (each process notices within ``ttl_s``).

Roles: ``viewer`` reads, ``operator`` also triggers syncs, retries records and edits mappings, ``admin`` also
manages tenants, credentials, secrets and webhook subscriptions. A token is scoped to a list of tenants or to
all (``*``). No token or a bad one is a 401; a good token without the right is a 403.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import jwt
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connector_pipelines.service.problems import ApiError
from connector_pipelines.service.roles import ALL_TENANTS, Role
from connector_pipelines.store.db import Database
from connector_pipelines.store.service import SealedSigningKey, SigningKeyRepository
from connector_pipelines.tenants.crypto import Keyring, Sealed

ALGORITHM = "HS256"
ISSUER = "connector-pipelines"
AUDIENCE = "connector-service"
MAX_TTL = timedelta(days=365)
LEEWAY_S = 5  # clock skew between the issuer and this process
_SEAL_SCOPE = "service"  # the associated data of a sealed key names this, not a tenant


class TokenClaims(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    sub: str = Field(min_length=1, max_length=200)
    role: Role
    tenants: list[str] = Field(min_length=1)
    jti: str
    iat: int
    exp: int


@dataclass(frozen=True)
class Principal:
    """Who calls: the token's subject, role and tenants (None: every tenant)."""

    subject: str
    role: Role
    tenants: frozenset[str] | None
    token_id: str

    def may_access(self, tenant: str) -> bool:
        return self.tenants is None or tenant in self.tenants


class KeyInfo(BaseModel):
    kid: str
    created_at: datetime
    retired_at: datetime | None
    current: bool


class SigningKeys:
    """The signing keys, decrypted once and cached for ``ttl_s``; an unknown kid reloads them at once."""

    def __init__(self, db: Database, keyring: Callable[[], Keyring], *, ttl_s: float = 30.0) -> None:
        self._repo = SigningKeyRepository(db)
        self._keyring = keyring
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._keys: dict[str, bytes] = {}
        self._current: str | None = None
        self._loaded_at = float("-inf")

    def _seal_name(self, kid: str) -> str:
        return f"signing-key:{kid}"

    def _load(self) -> None:
        keyring = self._keyring()
        found: list[SealedSigningKey] = self._repo.keys()
        self._keys = {
            k.kid: keyring.decrypt(Sealed(k.key_id, k.ciphertext), _SEAL_SCOPE, self._seal_name(k.kid))
            for k in found
        }
        self._current = found[0].kid if found else None
        self._loaded_at = time.monotonic()

    def _fresh(self, *, force: bool = False) -> None:
        with self._lock:
            if force or time.monotonic() - self._loaded_at > self._ttl_s:
                self._load()

    def secret_for(self, kid: str) -> bytes | None:
        self._fresh()
        if kid not in self._keys:
            self._fresh(force=True)
        return self._keys.get(kid)

    def current(self, *, create: bool = False) -> tuple[str, bytes]:
        """The signing key (kid, secret); ``create`` makes the first one when there is none."""
        self._fresh(force=True)
        if self._current is None:
            if not create:
                raise LookupError("no signing key: issue a token first, or run `tokens rotate-key`")
            self.rotate()
        assert self._current is not None
        return self._current, self._keys[self._current]

    def rotate(self) -> str:
        """A new signing key; the older ones keep verifying until retired."""
        kid = secrets.token_hex(8)
        sealed = self._keyring().encrypt(secrets.token_bytes(32), _SEAL_SCOPE, self._seal_name(kid))
        self._repo.add(kid, sealed.key_id, sealed.blob)
        self._fresh(force=True)
        return kid

    def retire(self, kid: str) -> bool:
        retired = self._repo.retire(kid)
        self._fresh(force=True)
        return retired

    def describe(self) -> list[KeyInfo]:
        found = self._repo.keys(active_only=False)
        current = next((k.kid for k in found if k.retired_at is None), None)
        return [
            KeyInfo(kid=k.kid, created_at=k.created_at, retired_at=k.retired_at, current=k.kid == current)
            for k in found
        ]


def issue_token(
    keys: SigningKeys,
    *,
    subject: str,
    role: Role,
    tenants: Sequence[str] | Literal["*"],
    ttl: timedelta,
    now: datetime | None = None,
) -> str:
    if not timedelta(0) < ttl <= MAX_TTL:
        raise ValueError(f"the lifetime must be more than 0 and at most {MAX_TTL.days} days")
    scope = [ALL_TENANTS] if tenants == ALL_TENANTS else sorted(set(tenants))
    if not scope:
        raise ValueError("name at least one tenant, or all tenants")
    issued = now or datetime.now(UTC)
    kid, secret = keys.current(create=True)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "role": role.value,
        "tenants": scope,
        "jti": uuid.uuid4().hex,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": kid})


def _unauthorized(reason: str) -> ApiError:
    return ApiError(
        401,
        reason,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"'},
    )


def verify_token(keys: SigningKeys, token: str) -> Principal:
    """The caller a token names, or a 401 saying why not (never echoing the token)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise _unauthorized("malformed token") from None
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or not isinstance(kid, str):
        raise _unauthorized(f"tokens are signed with {ALGORITHM} and name their key (kid)")
    secret = keys.secret_for(kid)
    if secret is None:
        raise _unauthorized("unknown or retired signing key")
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "sub", "jti"]},
        )
        claims = TokenClaims.model_validate(payload)
    except jwt.ExpiredSignatureError:
        raise _unauthorized("token expired") from None
    except (jwt.InvalidTokenError, ValidationError):
        raise _unauthorized("invalid token") from None
    tenants = None if ALL_TENANTS in claims.tenants else frozenset(claims.tenants)
    return Principal(claims.sub, claims.role, tenants, claims.jti)


# --- FastAPI dependencies -----------------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="a token of `connector-pipelines tokens issue`")


def authenticated(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise ApiError(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    keys: SigningKeys = request.app.state.services.signing_keys
    principal = verify_token(keys, credentials.credentials)
    request.state.principal = principal  # for the audit trail
    return principal


def needs(role: Role) -> Callable[[Principal], Principal]:
    def check(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
        if not principal.role.allows(role):
            raise ApiError(403, f"the {principal.role.value} role may not do this (needs {role.value})")
        return principal

    return check


@dataclass(frozen=True)
class Caller:
    """A caller allowed to act on one tenant."""

    principal: Principal
    tenant: str


def on_tenant(role: Role) -> Callable[..., Caller]:
    def check(
        tenant: Annotated[str, Path(description="the tenant's slug")],
        principal: Annotated[Principal, Depends(authenticated)],
    ) -> Caller:
        if not principal.role.allows(role):
            raise ApiError(403, f"the {principal.role.value} role may not do this (needs {role.value})")
        if not principal.may_access(tenant):
            raise ApiError(403, f"the token does not cover tenant '{tenant}'")
        return Caller(principal, tenant)

    return check


Viewer = Annotated[Caller, Depends(on_tenant(Role.VIEWER))]
Operator = Annotated[Caller, Depends(on_tenant(Role.OPERATOR))]
Admin = Annotated[Caller, Depends(on_tenant(Role.ADMIN))]
AnyViewer = Annotated[Principal, Depends(needs(Role.VIEWER))]
AnyAdmin = Annotated[Principal, Depends(needs(Role.ADMIN))]
