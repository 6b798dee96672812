"""Trade a refresh credential for a short-lived MQTT access token.

Two reply shapes are accepted: the OAuth 2.0 refresh-token grant (RFC 6749
section 6) and the Predbat cloud shape with `success` and `expires_at`.
The HTTP session is the caller's; this module owns none.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
import json
import logging
import time
from typing import Any

import aiohttp

from .errors import CredentialRejected, TokenError, TokenServiceUnavailable

_LOGGER = logging.getLogger(__name__)

REQUEST_TIMEOUT = 15.0
# A token this close to expiry is renewed before it is used to connect.
MIN_USABLE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class AccessToken:
    """An access token (a JWT) and the epoch time at which it expires."""

    value: str = field(repr=False)
    expires_at: float
    issued_at: float

    @property
    def lifetime(self) -> float:
        """Return the seconds between issue and expiry."""
        return max(self.expires_at - self.issued_at, 0.0)

    def seconds_left(self, now: float | None = None) -> float:
        """Return the seconds until expiry (negative once expired)."""
        return self.expires_at - (time.time() if now is None else now)

    @classmethod
    def from_jwt(cls, value: str, *, now: float | None = None) -> AccessToken:
        """Build a token whose expiry is the JWT's `exp` claim.

        Raises TokenError when the text is not a JWT with an `exp` claim.
        """
        expires_at = jwt_expiry(value)
        if expires_at is None:
            raise TokenError("the access token is not a JWT with an exp claim")
        issued_at = jwt_claim_number(value, "iat")
        return cls(
            value,
            expires_at,
            issued_at
            if issued_at is not None
            else (time.time() if now is None else now),
        )


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A token service reply: the access token and, if rotated, the new refresh credential."""

    access_token: AccessToken
    refresh_token: str | None = field(default=None, repr=False)


def _jwt_claims(value: str) -> dict[str, Any] | None:
    parts = value.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except binascii.Error, ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def jwt_claim_number(value: str, claim: str) -> float | None:
    """Return a numeric claim of a JWT without checking its signature."""
    claims = _jwt_claims(value)
    if claims is None:
        return None
    number = claims.get(claim)
    if isinstance(number, bool) or not isinstance(number, int | float):
        return None
    return float(number)


def jwt_expiry(value: str) -> float | None:
    """Return a JWT's `exp` claim (epoch seconds), or None when it has none.

    The signature is not checked: the broker does that. The expiry is only
    used to schedule the renewal.
    """
    return jwt_claim_number(value, "exp")


def _parse_expiry(value: Any) -> float:
    if isinstance(value, bool):
        raise TokenError("expires_at in the token reply is not a time")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as err:
            raise TokenError(
                f"expires_at {value!r} in the token reply is not an ISO-8601 time"
            ) from err
        if parsed.tzinfo is None:
            raise TokenError(
                f"expires_at {value!r} in the token reply has no time zone"
            )
        return parsed.timestamp()
    raise TokenError("expires_at in the token reply is not a time")


def parse_token_reply(body: Any, *, now: float) -> TokenGrant:
    """Read either reply shape into a TokenGrant.

    Raises CredentialRejected for `success: false`, TokenError for a reply
    that has no usable token or expiry.
    """
    if not isinstance(body, dict):
        raise TokenError("the token reply is not a JSON object")
    if "success" in body and body["success"] is not True:
        raise CredentialRejected(
            f"the token service returned success=false ({body.get('error', 'no error given')})"
        )

    value = body.get("access_token")
    if not isinstance(value, str) or not value:
        raise TokenError("the token reply has no access_token")

    if "expires_at" in body:
        expires_at = _parse_expiry(body["expires_at"])
    elif isinstance(body.get("expires_in"), int | float) and not isinstance(
        body["expires_in"], bool
    ):
        expires_at = now + float(body["expires_in"])
    else:
        jwt_exp = jwt_expiry(value)
        if jwt_exp is None:
            raise TokenError(
                "the token reply gives no expiry and the token has no exp claim"
            )
        expires_at = jwt_exp

    refresh = body.get("refresh_token")
    if refresh is not None and (not isinstance(refresh, str) or not refresh):
        raise TokenError("the token reply has an empty or invalid refresh_token")
    return TokenGrant(AccessToken(value, expires_at, now), refresh)


class TokenClient:
    """Client of the token service at one URL."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        client_id: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Use `session` for every request to the token endpoint at `url`.

        `timeout` is in seconds, REQUEST_TIMEOUT when left out.
        """
        self._session = session
        self._url = url
        self._client_id = client_id
        self._timeout = REQUEST_TIMEOUT if timeout is None else timeout

    async def request_token(self, refresh_token: str) -> TokenGrant:
        """Request a new access token with a refresh-token grant.

        Raises CredentialRejected when the credential is dead,
        TokenServiceUnavailable on a transient failure (HTTP 5xx, 429, time-out,
        network error) and TokenError on any other unusable reply.
        """
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if self._client_id:
            form["client_id"] = self._client_id
        try:
            async with asyncio.timeout(self._timeout):
                async with self._session.post(
                    self._url, data=form, headers={"Accept": "application/json"}
                ) as resp:
                    status = resp.status
                    try:
                        body: Any = await resp.json(content_type=None)
                    except ValueError:
                        body = None
        except TimeoutError as err:
            raise TokenServiceUnavailable(
                f"the token service did not respond within {self._timeout:g} s"
            ) from err
        except aiohttp.ClientError as err:
            raise TokenServiceUnavailable(
                f"the token service could not be reached: {type(err).__name__}"
            ) from err

        if status >= 500 or status == 429:
            raise TokenServiceUnavailable(f"the token service returned HTTP {status}")
        if status in (400, 401, 403):
            error = body.get("error") if isinstance(body, dict) else None
            if error in (
                "invalid_grant",
                "invalid_client",
                "unauthorized_client",
                "needs_reauth",
            ):
                raise CredentialRejected(
                    f"the token service rejected the credential ({error})"
                )
            raise TokenError(
                f"the token service returned HTTP {status} ({error or 'no error given'})"
            )
        if status != 200:
            raise TokenError(f"the token service returned HTTP {status}")
        return parse_token_reply(body, now=time.time())


type RefreshTokenStore = Callable[[str], Awaitable[None]]


class TokenManager:
    """The current access token and the one renewal that may be in flight.

    Concurrent callers of `renew` share one request. A rotated refresh
    credential is handed to `store_refresh_token` and awaited before the new
    access token is returned, so a restart at any moment finds a live
    credential in storage.
    """

    def __init__(
        self,
        client: TokenClient | None,
        refresh_token: str | None,
        access_token: AccessToken | None,
        store_refresh_token: RefreshTokenStore,
    ) -> None:
        """Start with what the config entry stores; `client` is None for a pasted token."""
        self._client = client
        self._refresh_token = refresh_token
        self._token = access_token
        self._store_refresh_token = store_refresh_token
        self._renewal: asyncio.Future[AccessToken] | None = None
        self.renewal_count = 0

    @property
    def token(self) -> AccessToken | None:
        """Return the newest access token, valid or not."""
        return self._token

    def usable_token(self) -> AccessToken | None:
        """Return the newest token unless it expires within MIN_USABLE_SECONDS."""
        token = self._token
        if token is None or token.seconds_left() < MIN_USABLE_SECONDS:
            return None
        return token

    @property
    def can_renew(self) -> bool:
        """Return whether a token service and a refresh credential are configured."""
        return self._client is not None and self._refresh_token is not None

    async def renew(self) -> AccessToken:
        """Get a new access token, sharing a renewal already in flight."""
        if self._renewal is not None:
            return await asyncio.shield(self._renewal)
        future: asyncio.Future[AccessToken] = asyncio.get_running_loop().create_future()
        self._renewal = future
        try:
            token = await self._request()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as err:
            future.set_exception(err)
            # Mark the exception as retrieved when no other caller waits on it.
            future.exception()
            raise
        else:
            future.set_result(token)
            return token
        finally:
            self._renewal = None

    async def _request(self) -> AccessToken:
        if self._client is None or self._refresh_token is None:
            raise CredentialRejected(
                "the access token was entered by hand and cannot be renewed"
            )
        self.renewal_count += 1
        grant = await self._client.request_token(self._refresh_token)
        if (
            grant.refresh_token is not None
            and grant.refresh_token != self._refresh_token
        ):
            # The old credential is dead from now on: store the new one first.
            await self._store_refresh_token(grant.refresh_token)
            self._refresh_token = grant.refresh_token
        self._token = grant.access_token
        _LOGGER.info(
            "Access token renewed, valid until %s",
            datetime.fromtimestamp(grant.access_token.expires_at)
            .astimezone()
            .isoformat(timespec="seconds"),
        )
        return grant.access_token
