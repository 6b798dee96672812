"""Tests of the token service's reply shapes, rotation and failure switches."""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Any

import aiohttp
import jwt
import pytest

from simulator.token_service import TokenService

from .conftest import SIM_JWT_SECRET

DEVICE = "pbgw_tokens01"


async def post_form(url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=form) as response,
    ):
        return response.status, await response.json()


async def refresh(service: TokenService, credential: str) -> tuple[int, dict[str, Any]]:
    return await post_form(
        service.url,
        {"grant_type": "refresh_token", "refresh_token": credential},
    )


def decode(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, SIM_JWT_SECRET, algorithms=["HS256"])
    return claims


async def test_oauth_reply_and_rotation(token_server: TokenService) -> None:
    first = token_server.add_credential(DEVICE)

    status, reply = await refresh(token_server, first)

    assert status == 200
    assert reply["token_type"] == "Bearer"
    assert reply["expires_in"] == 3600
    claims = decode(reply["access_token"])
    assert claims["sub"] == DEVICE
    assert claims["exp"] - claims["iat"] in (3600, 3601)
    second = reply["refresh_token"]
    assert second != first

    old_status, old_reply = await refresh(token_server, first)
    assert old_status == 400
    assert old_reply == {"error": "invalid_grant"}

    new_status, new_reply = await refresh(token_server, second)
    assert new_status == 200
    assert decode(new_reply["access_token"])["jti"] != claims["jti"]

    assert token_server.issued == 2
    assert [request.outcome for request in token_server.requests] == [
        "issued",
        "invalid_grant",
        "issued",
    ]
    assert [request.device_id for request in token_server.requests] == [
        DEVICE,
        None,
        DEVICE,
    ]


async def test_oauth_without_rotation_keeps_credential(
    token_server: TokenService,
) -> None:
    token_server.rotate = False
    credential = token_server.add_credential(DEVICE)

    first_status, first_reply = await refresh(token_server, credential)
    second_status, _ = await refresh(token_server, credential)

    assert first_status == 200
    assert "refresh_token" not in first_reply
    assert second_status == 200
    assert token_server.active_credentials(DEVICE) == 1


async def test_revoke_rejects_every_credential(token_server: TokenService) -> None:
    first = token_server.add_credential(DEVICE)
    second = token_server.add_credential(DEVICE)
    other = token_server.add_credential("pbgw_other")

    token_server.revoke(DEVICE)

    for credential in (first, second):
        status, reply = await refresh(token_server, credential)
        assert status == 400
        assert reply == {"error": "invalid_grant"}
    other_status, _ = await refresh(token_server, other)
    assert other_status == 200


async def test_predbat_reply_shape(token_server: TokenService) -> None:
    token_server.style = "predbat"
    credential = token_server.add_credential(DEVICE)

    status, reply = await refresh(token_server, credential)

    assert status == 200
    assert reply["success"] is True
    assert set(reply) == {"success", "access_token", "expires_at"}
    assert reply["expires_at"] == decode(reply["access_token"])["exp"]
    repeat_status, _ = await refresh(token_server, credential)
    assert repeat_status == 200


async def test_predbat_iso_expiry(token_server: TokenService) -> None:
    token_server.style = "predbat"
    token_server.expiry_format = "iso"
    credential = token_server.add_credential(DEVICE)

    _, reply = await refresh(token_server, credential)

    expires_at = datetime.datetime.fromisoformat(reply["expires_at"])
    assert expires_at.tzinfo is not None
    assert expires_at.timestamp() == decode(reply["access_token"])["exp"]


@pytest.mark.parametrize(
    ("style", "field"), [("oauth", "expires_in"), ("predbat", "expires_at")]
)
async def test_expiry_can_be_omitted(
    token_server: TokenService, style: str, field: str
) -> None:
    token_server.style = "oauth" if style == "oauth" else "predbat"
    token_server.expiry_format = "omit"
    credential = token_server.add_credential(DEVICE)

    status, reply = await refresh(token_server, credential)

    assert status == 200
    assert field not in reply
    assert "exp" in decode(reply["access_token"])


async def test_predbat_revoked_needs_reauth(token_server: TokenService) -> None:
    token_server.style = "predbat"
    credential = token_server.add_credential(DEVICE)
    token_server.revoke(DEVICE)

    status, reply = await refresh(token_server, credential)

    assert status == 200
    assert reply == {"success": False, "error": "needs_reauth"}
    assert token_server.requests[-1].outcome == "needs_reauth"


async def test_short_lifetime_rounds_exp_up(token_server: TokenService) -> None:
    token_server.lifetime = 2.5
    credential = token_server.add_credential(DEVICE)
    before = time.time()

    _, reply = await refresh(token_server, credential)

    after = time.time()
    assert reply["expires_in"] == 2.5
    exp = decode(reply["access_token"])["exp"]
    assert isinstance(exp, int)
    assert exp >= before + 2.5
    assert exp <= after + 3.5


async def test_reported_lifetime_differs_from_token(token_server: TokenService) -> None:
    token_server.lifetime = 5
    token_server.reported_lifetime = 3600
    credential = token_server.add_credential(DEVICE)

    _, reply = await refresh(token_server, credential)

    assert reply["expires_in"] == 3600
    claims = decode(reply["access_token"])
    assert claims["exp"] - claims["iat"] <= 6


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({}, "invalid_request"),
        ({"refresh_token": "x"}, "invalid_request"),
        ({"grant_type": "password", "refresh_token": "x"}, "unsupported_grant_type"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": ""}, "invalid_request"),
    ],
)
async def test_malformed_request_rejected(
    token_server: TokenService, form: dict[str, str], error: str
) -> None:
    status, reply = await post_form(token_server.url, form)

    assert status == 400
    assert reply == {"error": error}
    assert token_server.issued == 0


async def test_client_id_recorded(token_server: TokenService) -> None:
    credential = token_server.add_credential(DEVICE)

    await post_form(
        token_server.url,
        {
            "grant_type": "refresh_token",
            "refresh_token": credential,
            "client_id": "home-assistant",
        },
    )

    assert token_server.requests[-1].client_id == "home-assistant"


@pytest.mark.parametrize("failure", [503, 429, 500])
async def test_failure_status_blocks_tokens(
    token_server: TokenService, failure: int
) -> None:
    credential = token_server.add_credential(DEVICE)
    token_server.failure_status = failure

    status, _ = await refresh(token_server, credential)

    assert status == failure
    assert token_server.issued == 0
    assert token_server.requests[-1].outcome == "failure_status"

    token_server.failure_status = None
    recovered_status, _ = await refresh(token_server, credential)
    assert recovered_status == 200


async def test_hang_holds_reply_until_released(token_server: TokenService) -> None:
    credential = token_server.add_credential(DEVICE)
    token_server.hang = True

    pending = asyncio.create_task(refresh(token_server, credential))
    done, _ = await asyncio.wait({pending}, timeout=0.3)
    assert not done

    token_server.hang = False
    status, reply = await asyncio.wait_for(pending, timeout=5)

    assert status == 200
    assert "access_token" in reply


async def test_stop_ends_hanging_requests(socket_enabled: None) -> None:
    service = TokenService(SIM_JWT_SECRET)
    await service.start()
    credential = service.add_credential(DEVICE)
    service.hang = True
    pending = asyncio.create_task(refresh(service, credential))
    await asyncio.sleep(0.1)

    started = time.monotonic()
    await service.stop()

    assert time.monotonic() - started < 3
    outcome = await asyncio.gather(pending, return_exceptions=True)
    result = outcome[0]
    if isinstance(result, BaseException):
        assert isinstance(result, aiohttp.ClientError)
    else:
        assert result[0] == 503
    assert service.requests[-1].outcome == "aborted"
    assert service.issued == 0


def test_issue_access_token_for_paste_path() -> None:
    service = TokenService(SIM_JWT_SECRET, lifetime=100)

    claims = decode(service.issue_access_token(DEVICE))
    short = service.issue_access_token(DEVICE, lifetime=-10)

    assert claims["sub"] == DEVICE
    assert 100 <= claims["exp"] - time.time() <= 101
    with pytest.raises(jwt.ExpiredSignatureError):
        decode(short)
    assert service.issued == 0
