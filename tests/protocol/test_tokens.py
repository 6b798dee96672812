"""Token replies, JWT expiry and the single-flight renewal."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from custom_components.predbat_gateway.protocol.errors import (
    CredentialRejected,
    TokenError,
    TokenServiceUnavailable,
)
from custom_components.predbat_gateway.protocol.tokens import (
    AccessToken,
    TokenGrant,
    TokenManager,
    jwt_expiry,
    parse_token_reply,
)

NOW = 1_796_390_000.0


def make_jwt(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def test_oauth_reply_with_rotation() -> None:
    grant = parse_token_reply(
        {
            "access_token": "tok",
            "token_type": "Bearer",
            "expires_in": 86400,
            "refresh_token": "r2",
        },
        now=NOW,
    )

    assert grant.access_token.value == "tok"
    assert grant.access_token.expires_at == NOW + 86400
    assert grant.refresh_token == "r2"


def test_predbat_reply_epoch_expiry() -> None:
    grant = parse_token_reply(
        {"success": True, "access_token": "tok", "expires_at": 1796400000}, now=NOW
    )

    assert grant.access_token.expires_at == 1796400000
    assert grant.refresh_token is None


def test_predbat_reply_iso_expiry() -> None:
    grant = parse_token_reply(
        {
            "success": True,
            "access_token": "tok",
            "expires_at": "2026-12-05T12:00:00+00:00",
        },
        now=NOW,
    )

    assert grant.access_token.expires_at == 1796472000


def test_reply_without_expiry_uses_jwt_exp() -> None:
    token = make_jwt({"sub": "pbgw_a", "exp": 1796400123})

    grant = parse_token_reply({"success": True, "access_token": token}, now=NOW)

    assert grant.access_token.expires_at == 1796400123


def test_success_false_is_rejection() -> None:
    with pytest.raises(CredentialRejected, match="needs_reauth"):
        parse_token_reply({"success": False, "error": "needs_reauth"}, now=NOW)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([], id="not-an-object"),
        pytest.param({"token_type": "Bearer"}, id="no-access-token"),
        pytest.param({"access_token": "opaque"}, id="no-expiry-anywhere"),
        pytest.param({"access_token": "t", "expires_at": "tomorrow"}, id="bad-iso"),
        pytest.param(
            {"access_token": "t", "expires_at": "2026-12-05T12:00:00"}, id="naive-iso"
        ),
        pytest.param(
            {"access_token": "t", "expires_in": 60, "refresh_token": ""},
            id="empty-refresh",
        ),
    ],
)
def test_unusable_reply_raises(body: object) -> None:
    with pytest.raises(TokenError):
        parse_token_reply(body, now=NOW)


def test_jwt_expiry_of_non_jwt_is_none() -> None:
    assert jwt_expiry("not-a-jwt") is None
    assert jwt_expiry("a.b.c") is None
    assert jwt_expiry(make_jwt({"exp": "soon"})) is None


def test_access_token_repr_hides_value() -> None:
    token = AccessToken("secret-token-value", NOW + 60, NOW)

    assert "secret-token-value" not in repr(token)
    assert "secret-token-value" not in repr(TokenGrant(token, "secret-refresh"))
    assert "secret-refresh" not in repr(TokenGrant(token, "secret-refresh"))


class FakeTokenClient:
    """Token client fake that returns scripted replies and counts requests."""

    def __init__(
        self, replies: list[TokenGrant | Exception], delay: float = 0.0
    ) -> None:
        self.replies = replies
        self.delay = delay
        self.requests: list[str] = []

    async def request_token(self, refresh_token: str) -> TokenGrant:
        self.requests.append(refresh_token)
        await asyncio.sleep(self.delay)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


async def test_concurrent_renewals_share_one_request() -> None:
    client = FakeTokenClient([TokenGrant(AccessToken("a1", NOW + 60, NOW))], delay=0.05)
    stored: list[str] = []

    async def store(value: str) -> None:
        stored.append(value)

    manager = TokenManager(client, "r1", None, store)  # type: ignore[arg-type]

    results = await asyncio.gather(*(manager.renew() for _ in range(5)))

    assert len(client.requests) == 1
    assert {token.value for token in results} == {"a1"}
    assert stored == []


async def test_rotated_credential_stored_before_use() -> None:
    client = FakeTokenClient(
        [
            TokenGrant(AccessToken("a1", NOW + 60, NOW), "r2"),
            TokenGrant(AccessToken("a2", NOW + 60, NOW), "r3"),
        ]
    )
    events: list[str] = []

    async def store(value: str) -> None:
        # The manager must not expose the new access token before this returns.
        events.append(
            f"stored {value}; current {manager.token.value if manager.token else None}"
        )

    manager = TokenManager(client, "r1", None, store)  # type: ignore[arg-type]

    await manager.renew()
    await manager.renew()

    assert client.requests == ["r1", "r2"]
    assert events == ["stored r2; current None", "stored r3; current a1"]


async def test_failed_renewal_reaches_every_waiter() -> None:
    client = FakeTokenClient([TokenServiceUnavailable("HTTP 503")], delay=0.05)

    async def store(value: str) -> None:
        raise AssertionError("nothing to store")

    manager = TokenManager(client, "r1", None, store)  # type: ignore[arg-type]

    results = await asyncio.gather(
        manager.renew(), manager.renew(), return_exceptions=True
    )

    assert len(client.requests) == 1
    assert all(isinstance(result, TokenServiceUnavailable) for result in results)


async def test_pasted_token_cannot_renew() -> None:
    async def store(value: str) -> None:
        raise AssertionError("nothing to store")

    manager = TokenManager(None, None, AccessToken("pasted", NOW + 60, NOW), store)

    assert manager.can_renew is False
    with pytest.raises(CredentialRejected, match="cannot be renewed"):
        await manager.renew()
