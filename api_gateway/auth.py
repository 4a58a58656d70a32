"""JWTs: HS256 only, `exp`, `iat` and `sub` required. The gateway issues and checks them;
the secret never leaves the gateway."""

from __future__ import annotations

import time

import jwt
from starlette.requests import Request

from api_gateway.errors import ApiError
from contracts import ErrorCode

ALGORITHM = "HS256"


class TokenService:
    def __init__(self, secret: str, ttl_seconds: int):
        self._secret = secret
        self._ttl = ttl_seconds

    def issue(self, user_id: int, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims = {"sub": str(user_id), "iat": issued, "exp": issued + self._ttl}
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> int:
        """The user id in a valid token; ApiError(401) for anything else."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "iat", "sub"]},
            )
            user_id = int(claims["sub"])
        except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
            raise ApiError(ErrorCode.UNAUTHORIZED, "invalid or expired token") from exc
        if user_id <= 0:
            raise ApiError(ErrorCode.UNAUTHORIZED, "invalid or expired token")
        return user_id


def token_of(request: Request) -> str | None:
    token = request.headers.get("x-auth-token")
    if token:
        return token.strip()
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def authenticated_user(request: Request) -> int:
    """The caller's user id, or 401."""
    token = token_of(request)
    if not token:
        raise ApiError(ErrorCode.UNAUTHORIZED, "missing token (x-auth-token header)")
    tokens: TokenService = request.state.tokens
    return tokens.verify(token)
