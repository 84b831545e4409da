"""API tokens: signed JWTs with a key id. Unsigned (alg none), expired, tampered, foreign, retired-key tokens
are 401; a good token without the right is 403; rotation keeps issued tokens valid until their key retires."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import jwt
import orjson
import pytest

from connector_pipelines.service.auth import AUDIENCE, ISSUER, issue_token, verify_token
from connector_pipelines.service.problems import ApiError
from connector_pipelines.service.roles import Role
from connector_pipelines_tests.service.conftest import Service


def _b64(doc: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(doc)).rstrip(b"=").decode()


def _claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "mallory",
        "role": "admin",
        "tenants": ["*"],
        "jti": "j1",
        "iat": now,
        "exp": now + 3600,
        **changes,
    }


@pytest.fixture
def acme(service: Service) -> Service:
    service.add_tenant("acme")
    return service


def _get(service: Service, token: str) -> tuple[int, str]:
    answer = service.client.get("/api/tenants/acme", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code, answer.json().get("message", "")


def test_a_valid_token_names_its_caller(acme: Service) -> None:
    token = issue_token(
        acme.services.signing_keys,
        subject="alice",
        role=Role.VIEWER,
        tenants=["acme"],
        ttl=timedelta(minutes=5),
    )
    principal = verify_token(acme.services.signing_keys, token)
    assert (principal.subject, principal.role, principal.tenants) == (
        "alice",
        Role.VIEWER,
        frozenset({"acme"}),
    )
    assert _get(acme, token)[0] == 200


def test_an_unsigned_token_is_refused(acme: Service) -> None:
    kid = acme.services.signing_keys.current(create=True)[0]
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64(_claims())}."
    assert _get(acme, unsigned)[0] == 401


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_a_token_of_another_algorithm_is_refused(acme: Service) -> None:
    kid, secret = acme.services.signing_keys.current(create=True)
    other = jwt.encode(_claims(), secret, algorithm="HS512", headers={"kid": kid})
    assert _get(acme, other)[0] == 401


def test_an_expired_token_is_refused(acme: Service) -> None:
    token = issue_token(
        acme.services.signing_keys,
        subject="alice",
        role=Role.ADMIN,
        tenants="*",
        ttl=timedelta(minutes=1),
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    status, message = _get(acme, token)
    assert (status, message) == (401, "token expired")


def test_a_tampered_token_is_refused(acme: Service) -> None:
    token = issue_token(
        acme.services.signing_keys,
        subject="alice",
        role=Role.VIEWER,
        tenants=["acme"],
        ttl=timedelta(minutes=5),
    )
    header, _, signature = token.split(".")
    raised = f"{header}.{_b64(_claims(role='admin', sub='alice'))}.{signature}"
    assert _get(acme, raised)[0] == 401


def test_a_token_signed_with_an_unknown_key_or_for_another_audience_is_refused(acme: Service) -> None:
    kid, secret = acme.services.signing_keys.current(create=True)
    foreign = jwt.encode(_claims(), b"k" * 32, algorithm="HS256", headers={"kid": "someone-elses"})
    wrong_audience = jwt.encode(
        _claims(aud="another-service"), secret, algorithm="HS256", headers={"kid": kid}
    )
    no_kid = jwt.encode(_claims(), secret, algorithm="HS256")
    assert [_get(acme, t)[0] for t in (foreign, wrong_audience, no_kid, "not-a-jwt")] == [401] * 4


def test_missing_credentials_are_401_with_a_challenge(acme: Service) -> None:
    for headers in ({}, {"Authorization": "Basic YWRtaW46YWRtaW4="}):
        answer = acme.client.get("/api/tenants/acme", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.json()["code"] == "unauthorized"


def test_a_role_or_tenant_outside_the_token_is_403_not_401(acme: Service) -> None:
    viewer = acme.token("viewer")
    other = acme.token("admin", ["beta"])
    denied = acme.client.post("/api/tenants/acme/disable", headers=viewer)
    elsewhere = acme.client.get("/api/tenants/acme", headers=other)
    assert (denied.status_code, elsewhere.status_code) == (403, 403)
    assert denied.json()["code"] == elsewhere.json()["code"] == "forbidden"


def test_rotation_keeps_issued_tokens_until_their_key_is_retired(acme: Service) -> None:
    keys = acme.services.signing_keys
    old = acme.token("viewer")
    first = keys.current()[0]
    second = keys.rotate()
    assert keys.current()[0] == second
    new = acme.token("viewer")
    assert jwt.get_unverified_header(new["Authorization"][7:])["kid"] == second
    assert acme.client.get("/api/tenants/acme", headers=old).status_code == 200
    assert keys.retire(first)
    assert acme.client.get("/api/tenants/acme", headers=old).status_code == 401
    assert acme.client.get("/api/tenants/acme", headers=new).status_code == 200
    assert [k.kid for k in keys.describe() if k.current] == [second]


def test_keys_are_sealed_in_the_database(acme: Service) -> None:
    from connector_pipelines.store.service import SigningKeyRepository

    kid, secret = acme.services.signing_keys.current(create=True)
    (stored,) = SigningKeyRepository(acme.services.db).keys()
    assert stored.kid == kid
    assert secret not in stored.ciphertext


def test_a_lifetime_beyond_a_year_is_refused(acme: Service) -> None:
    with pytest.raises(ValueError, match="365 days"):
        issue_token(
            acme.services.signing_keys, subject="a", role=Role.ADMIN, tenants="*", ttl=timedelta(days=400)
        )


def test_verification_errors_never_echo_the_token(acme: Service) -> None:
    token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.secretpart"
    with pytest.raises(ApiError) as raised:
        verify_token(acme.services.signing_keys, token)
    assert "secretpart" not in raised.value.message
