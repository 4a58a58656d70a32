"""TokenService: HS256 only, `exp`, `iat` and `sub` required, anything else is a 401."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from api_gateway.auth import ALGORITHM, TokenService
from api_gateway.errors import ApiError
from contracts import ErrorCode

SECRET = "unit-test-secret-" + "0123456789abcdef" * 4  # 64+ bytes: HS512 wants them
TOKENS = TokenService(SECRET, ttl_seconds=60)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_refused(token: str) -> None:
    with pytest.raises(ApiError) as refused:
        TOKENS.verify(token)
    assert refused.value.code == ErrorCode.UNAUTHORIZED


def test_an_issued_token_verifies_to_its_user() -> None:
    assert TOKENS.verify(TOKENS.issue(42)) == 42


def test_issued_claims() -> None:
    now = time.time()
    claims = jwt.decode(TOKENS.issue(7, now=now), SECRET, algorithms=[ALGORITHM])
    assert claims == {"sub": "7", "iat": int(now), "exp": int(now) + 60}


def test_expired() -> None:
    assert_refused(TOKENS.issue(7, now=time.time() - 120))


@pytest.mark.parametrize("missing", ["exp", "iat", "sub"])
def test_each_required_claim(missing: str) -> None:
    now = int(time.time())
    claims = {"sub": "7", "iat": now, "exp": now + 60}
    del claims[missing]
    assert_refused(jwt.encode(claims, SECRET, algorithm=ALGORITHM))


def test_wrong_key() -> None:
    assert_refused(TokenService("another-secret-that-is-also-long-enough!!", 60).issue(7))


def test_tampered_subject() -> None:
    header, payload, signature = TOKENS.issue(7).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "8"
    assert_refused(".".join([header, b64(json.dumps(claims).encode()), signature]))


def test_alg_none() -> None:
    now = int(time.time())
    claims = {"sub": "7", "iat": now, "exp": now + 60}
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert unsigned.endswith(".")
    assert_refused(unsigned)
    assert_refused(unsigned + b64(b"anything"))


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_algorithms_even_with_the_right_key(algorithm: str) -> None:
    now = int(time.time())
    claims = {"sub": "7", "iat": now, "exp": now + 60}
    assert_refused(jwt.encode(claims, SECRET, algorithm=algorithm))


@pytest.mark.parametrize("sub", ["0", "-1", "abc", "", "1.5", "7; drop"])
def test_subjects_that_are_not_user_ids(sub: str) -> None:
    now = int(time.time())
    assert_refused(jwt.encode({"sub": sub, "iat": now, "exp": now + 60}, SECRET, ALGORITHM))


def test_subject_must_be_a_string() -> None:
    now = int(time.time())
    assert_refused(jwt.encode({"sub": 7, "iat": now, "exp": now + 60}, SECRET, ALGORITHM))


def test_issued_in_the_future() -> None:
    later = int(time.time()) + 3600
    assert_refused(jwt.encode({"sub": "7", "iat": later, "exp": later + 60}, SECRET, ALGORITHM))


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b.c", "a.b", "....", "Bearer x", "eyJ.eyJ.sig", "\u00e9.\u00e9.\u00e9"]
)
def test_malformed(token: str) -> None:
    assert_refused(token)
