"""A local token service that trades refresh credentials for broker access tokens.

It serves ``POST /token`` with the OAuth 2.0 refresh-token grant (RFC 6749
section 6) and replies in one of the two shapes that gateway token
services use:

- ``"oauth"``: ``{"access_token", "token_type": "Bearer", "expires_in",
  "refresh_token"}``. With ``rotate`` on, every successful refresh returns a
  new refresh credential and the old one stops working at once. With
  ``rotate`` off, the reply has no ``refresh_token`` and the credential stays
  valid. An unknown or revoked credential gets HTTP 400
  ``{"error": "invalid_grant"}``.
- ``"predbat"``: ``{"success": true, "access_token", "expires_at"}``. An
  unknown or revoked credential gets HTTP 200
  ``{"success": false, "error": "needs_reauth"}``. This shape has no field
  for a new credential, so ``rotate`` does not apply.

Both shapes reply to a request without ``grant_type`` or ``refresh_token``
with HTTP 400 ``{"error": "invalid_request"}``, and any other grant type with HTTP
400 ``{"error": "unsupported_grant_type"}``.

Access tokens are HS256 JWTs with ``sub`` (the device id), ``iat``, ``exp``
and a unique ``jti``. JWT times are whole seconds, so ``exp`` is
``ceil(now + lifetime)``: a token lives at least ``lifetime`` seconds and at
most one second longer, and a lifetime such as 2.5 s works. ``expires_in``
reports ``lifetime`` itself (a float when it is not whole), so a client that
trusts it renews before the broker drops it. ``expires_at`` reports the
token's ``exp``.

Everything runs in the event loop that calls ``start()``: no threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
import datetime
import logging
import math
import secrets
import time
from typing import Any, Literal
import uuid

from aiohttp import web
import jwt

_LOGGER = logging.getLogger(__name__)

type ReplyStyle = Literal["oauth", "predbat"]
type ExpiryFormat = Literal["number", "iso", "omit"]
type RequestOutcome = Literal[
    "issued",
    "invalid_grant",
    "needs_reauth",
    "invalid_request",
    "unsupported_grant_type",
    "failure_status",
    "aborted",
]

TOKEN_PATH = "/token"
DEFAULT_LIFETIME = 3600.0
REFRESH_GRANT = "refresh_token"


@dataclass(frozen=True)
class TokenRequest:
    """One request that reached the token endpoint."""

    time: float
    """Wall-clock time of arrival, epoch seconds."""
    device_id: str | None
    """The device whose credential was sent; None when the credential is unknown."""
    client_id: str | None
    outcome: RequestOutcome
    status: int
    """HTTP status of the reply; 0 when the request was aborted unanswered."""


class TokenService:
    """An aiohttp token endpoint with switches for the failures a client must survive.

    Test switches, all settable while the service runs:

    - ``failure_status``: when set (for example 503 or 429), every request gets
      that HTTP status and no token.
    - ``hang``: when True, requests get no reply until it is set back to False
      or the service stops.
    - ``lifetime``: seconds that newly issued access tokens live.
    - ``reported_lifetime``: when set, replies report this lifetime instead of
      the token's real one, to model a service whose ``expires_in`` or
      ``expires_at`` disagrees with the JWT ``exp``.
    - ``style``, ``rotate``, ``expiry_format``: the reply shape, see the
      module docstring. ``expiry_format`` is ``"number"`` (``expires_in``
      seconds or ``expires_at`` epoch seconds), ``"iso"`` (``expires_at`` as an
      ISO-8601 string in UTC, while OAuth replies keep a numeric
      ``expires_in``) or ``"omit"`` (no expiry field, so the JWT ``exp`` is
      the only expiry).
    """

    def __init__(
        self,
        jwt_secret: str,
        *,
        style: ReplyStyle = "oauth",
        lifetime: float = DEFAULT_LIFETIME,
        rotate: bool = True,
        expiry_format: ExpiryFormat = "number",
        reported_lifetime: float | None = None,
    ) -> None:
        """Configure the service; it listens only after ``start()``."""
        if not jwt_secret:
            raise ValueError("jwt_secret must not be empty")
        self.style: ReplyStyle = style
        self.lifetime = lifetime
        self.rotate = rotate
        self.expiry_format: ExpiryFormat = expiry_format
        self.reported_lifetime = reported_lifetime
        self.failure_status: int | None = None
        self.requests: list[TokenRequest] = []
        self.issued = 0
        """Access tokens issued through the endpoint; ``issue_access_token()`` is not counted."""
        self.jwt_secret = jwt_secret
        """Key that signs the access tokens. Tests change it to issue tokens the broker rejects."""
        self._credentials: dict[str, str] = {}
        self._hang = False
        self._release = asyncio.Event()
        self._release.set()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._host = ""
        self._port = 0

    @property
    def hang(self) -> bool:
        """Whether requests are held without a reply."""
        return self._hang

    @hang.setter
    def hang(self, value: bool) -> None:
        self._hang = value
        if value:
            self._release.clear()
        else:
            self._release.set()

    @property
    def url(self) -> str:
        """The token endpoint URL, for example ``http://127.0.0.1:8080/token``."""
        if self._runner is None:
            raise RuntimeError("The token service has no URL before start()")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}{TOKEN_PATH}"

    @property
    def port(self) -> int:
        """The TCP port the service listens on; 0 before ``start()``."""
        return self._port

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on host and port; port 0 picks a free port."""
        if self._runner is not None:
            raise RuntimeError("The token service is already running")
        app = web.Application()
        app.router.add_post(TOKEN_PATH, self._handle_token_request)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        address = runner.addresses[0]
        self._host = host
        self._port = int(address[1])
        self._closing = False
        self._runner = runner
        _LOGGER.info("Token service listening on %s (%s replies)", self.url, self.style)

    async def stop(self) -> None:
        """Stop listening; requests held by ``hang`` end without a reply."""
        runner = self._runner
        if runner is None:
            return
        self._closing = True
        self._release.set()
        self._runner = None
        await runner.cleanup()
        _LOGGER.info("Token service on port %s stopped", self._port)

    def add_credential(self, device_id: str) -> str:
        """Create and return a new refresh credential for device_id."""
        credential = secrets.token_urlsafe(32)
        self._credentials[credential] = device_id
        return credential

    def revoke(self, device_id: str) -> None:
        """Invalidate every refresh credential of device_id.

        Access tokens already issued stay valid until their ``exp``.
        """
        revoked = [
            key for key, owner in self._credentials.items() if owner == device_id
        ]
        for credential in revoked:
            del self._credentials[credential]
        _LOGGER.info("Revoked %d credential(s) of %s", len(revoked), device_id)

    def active_credentials(self, device_id: str) -> int:
        """Count the refresh credentials of device_id that still work."""
        return sum(1 for owner in self._credentials.values() if owner == device_id)

    def issue_access_token(self, device_id: str, lifetime: float | None = None) -> str:
        """Return a signed access token for device_id, without an HTTP request.

        lifetime defaults to the service's ``lifetime``; a negative lifetime
        gives a token that is already expired.
        """
        token, _ = self._make_access_token(
            device_id, self.lifetime if lifetime is None else lifetime
        )
        return token

    def _make_access_token(self, device_id: str, lifetime: float) -> tuple[str, int]:
        now = time.time()
        expires_at = math.ceil(now + lifetime)
        claims = {
            "sub": device_id,
            "iat": int(now),
            "exp": expires_at,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.jwt_secret, algorithm="HS256"), expires_at

    async def _handle_token_request(self, request: web.Request) -> web.StreamResponse:
        arrived = time.time()
        form = await request.post()
        grant_type = form.get("grant_type")
        credential = form.get("refresh_token")
        raw_client_id = form.get("client_id")
        client_id = raw_client_id if isinstance(raw_client_id, str) else None
        device_id = (
            self._credentials.get(credential) if isinstance(credential, str) else None
        )

        if self._hang:
            _LOGGER.debug("Holding token request for %s without a reply", device_id)
            await self._release.wait()
            if self._closing:
                self._record(arrived, device_id, client_id, "aborted", 0)
                raise web.HTTPServiceUnavailable

        if self.failure_status is not None:
            status = self.failure_status
            self._record(arrived, device_id, client_id, "failure_status", status)
            headers = {"Retry-After": "1"} if status in (429, 503) else None
            return web.json_response(
                {"error": "temporarily_unavailable"}, status=status, headers=headers
            )

        if not isinstance(grant_type, str) or not grant_type:
            return self._reject_request(
                arrived, device_id, client_id, "invalid_request"
            )
        if grant_type != REFRESH_GRANT:
            return self._reject_request(
                arrived, device_id, client_id, "unsupported_grant_type"
            )
        if not isinstance(credential, str) or not credential:
            return self._reject_request(
                arrived, device_id, client_id, "invalid_request"
            )

        if device_id is None:
            if self.style == "oauth":
                self._record(arrived, None, client_id, "invalid_grant", 400)
                return web.json_response({"error": "invalid_grant"}, status=400)
            self._record(arrived, None, client_id, "needs_reauth", 200)
            return web.json_response({"success": False, "error": "needs_reauth"})

        return web.json_response(
            self._issue_reply(arrived, device_id, credential, client_id)
        )

    def _issue_reply(
        self, arrived: float, device_id: str, credential: str, client_id: str | None
    ) -> Mapping[str, Any]:
        token, expires_at = self._make_access_token(device_id, self.lifetime)
        self.issued += 1
        self._record(arrived, device_id, client_id, "issued", 200)
        reported = (
            self.lifetime if self.reported_lifetime is None else self.reported_lifetime
        )

        if self.style == "oauth":
            reply: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
            if self.expiry_format != "omit":
                reply["expires_in"] = (
                    int(reported) if float(reported).is_integer() else reported
                )
            if self.rotate:
                del self._credentials[credential]
                reply["refresh_token"] = self.add_credential(device_id)
            return reply

        reply = {"success": True, "access_token": token}
        if self.reported_lifetime is not None:
            expires_at = math.ceil(arrived + self.reported_lifetime)
        if self.expiry_format == "number":
            reply["expires_at"] = expires_at
        elif self.expiry_format == "iso":
            reply["expires_at"] = datetime.datetime.fromtimestamp(
                expires_at, datetime.UTC
            ).isoformat()
        return reply

    def _reject_request(
        self,
        arrived: float,
        device_id: str | None,
        client_id: str | None,
        error: Literal["invalid_request", "unsupported_grant_type"],
    ) -> web.Response:
        self._record(arrived, device_id, client_id, error, 400)
        return web.json_response({"error": error}, status=400)

    def _record(
        self,
        arrived: float,
        device_id: str | None,
        client_id: str | None,
        outcome: RequestOutcome,
        status: int,
    ) -> None:
        self.requests.append(
            TokenRequest(arrived, device_id, client_id, outcome, status)
        )
        _LOGGER.debug(
            "Token request for device %s (client_id %s): %s, HTTP %s",
            device_id,
            client_id,
            outcome,
            status,
        )
