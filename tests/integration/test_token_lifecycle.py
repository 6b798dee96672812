"""The access-token lifecycle against the real broker, which drops clients at `exp`."""

from __future__ import annotations

import asyncio
import logging
import time

from homeassistant.components.number import (
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.predbat_gateway.const import DOMAIN
from simulator.broker import MosquittoBroker
from simulator.gateway import GatewaySimulator
from simulator.token_service import TokenService

from ..conftest import DEVICE_ID, assert_no_secret_logged
from .helpers import broker_counts, entity_id, track_unavailable, wait_until


def _issued(token_service: TokenService) -> int:
    return sum(1 for request in token_service.requests if request.outcome == "issued")


@pytest.mark.parametrize("token_lifetime", [2.5])
async def test_five_expiries_lose_no_control(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    broker: MosquittoBroker,
    token_service: TokenService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    coordinator = loaded_entry.runtime_data
    serial = gateway.inverters[0].config.serial
    number = entity_id(hass, "number", f"{serial}_charge_rate")
    failures: list[BaseException] = []
    values_sent = 0
    unavailable_seen, unsubscribe = track_unavailable(hass, loaded_entry)
    first_token = coordinator.tokens.token
    assert first_token is not None
    # Run past five expiries of the first token's lifetime.
    deadline = time.monotonic() + 5 * first_token.lifetime + 1
    while time.monotonic() < deadline:
        values_sent += 1
        try:
            await hass.services.async_call(
                NUMBER_DOMAIN,
                SERVICE_SET_VALUE,
                {ATTR_ENTITY_ID: number, ATTR_VALUE: 1000 + values_sent},
                blocking=True,
            )
        except Exception as err:
            failures.append(err)
        await asyncio.sleep(0.25)
    unsubscribe()

    attempts, refusals, kicks = await broker_counts(hass, broker)
    renewals = _issued(token_service)
    assert failures == []
    assert renewals >= 6, (
        "fewer than five renewals: the test did not cross five expiries"
    )
    # Every command was received by the gateway.
    await gateway.wait_for_command(lambda c: c.get("power_w") == 1000 + values_sent)
    received = {
        c["power_w"]
        for c in gateway.received_commands
        if c["command"] == "set_charge_rate"
    }
    assert received == {1000 + n for n in range(1, values_sent + 1)}
    # No stale token was ever offered and the broker never had to drop us.
    assert refusals == 0
    assert kicks == 0
    # One CONNECT per token: no reconnect loop.
    assert attempts == renewals
    assert unavailable_seen == []
    assert coordinator.connected
    assert_no_secret_logged(
        caplog, [coordinator.tokens.token.value, loaded_entry.data["refresh_token"]]
    )


@pytest.mark.parametrize("token_lifetime", [2.0])
async def test_revoked_credential_asks_reauth_once(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    broker: MosquittoBroker,
    token_service: TokenService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = loaded_entry.runtime_data
    serial = gateway.inverters[0].config.serial
    soc = entity_id(hass, "sensor", f"{serial}_battery_soc")
    requests_before = len(token_service.requests)
    caplog.clear()

    token_service.revoke(DEVICE_ID)
    await wait_until(lambda: coordinator.auth_failed, timeout=5, what="auth failure")
    # Give a looping client time to show itself.
    await asyncio.sleep(3)
    await hass.async_block_till_done()

    after = token_service.requests[requests_before:]
    assert [request.outcome for request in after] == ["invalid_grant"]
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert hass.states.get(soc).state == STATE_UNAVAILABLE
    _attempts, refusals, _kicks = await broker_counts(hass, broker)
    assert refusals == 0
    # One ERROR line states what the user must do, and no other line repeats it.
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "needs a new credential" in errors[0]


@pytest.mark.parametrize("token_lifetime", [2.0])
async def test_refused_token_renewed_and_reconnected_at_once(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    broker: MosquittoBroker,
    token_service: TokenService,
) -> None:
    # The service claims an hour while the JWT lives two seconds: the client
    # plans no renewal, the broker drops it at exp and refuses the old token,
    # the failure mode that once left batteries uncontrolled.
    token_service.reported_lifetime = 3600
    coordinator = loaded_entry.runtime_data
    # From the next renewal on, the coordinator believes the token lasts an hour.
    await wait_until(
        lambda: coordinator.tokens.token.lifetime > 3000,
        timeout=5,
        what="long-lived token",
    )
    issued_before = _issued(token_service)

    async def kicked() -> int:
        return (await broker_counts(hass, broker))[2]

    deadline = time.monotonic() + 6
    while await kicked() == 0:
        assert time.monotonic() < deadline, (
            "the broker never dropped the expired session"
        )
        await asyncio.sleep(0.1)
    await wait_until(
        lambda: coordinator.connected, timeout=2, what="reconnect after refusal"
    )

    _attempts, refusals, kicks = await broker_counts(hass, broker)
    assert kicks >= 1
    assert refusals >= 1
    # One renewal per refusal: never a second request for the same refusal.
    assert _issued(token_service) - issued_before == refusals
    assert not coordinator.auth_failed


async def test_broker_restart_reconnects_without_token_request(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    broker: MosquittoBroker,
    token_service: TokenService,
) -> None:
    coordinator = loaded_entry.runtime_data
    requests_before = len(token_service.requests)

    await hass.async_add_executor_job(broker.restart)
    await wait_until(lambda: not coordinator.connected, timeout=5, what="disconnect")
    await wait_until(lambda: coordinator.connected, timeout=10, what="reconnect")

    assert len(token_service.requests) == requests_before
    _attempts, refusals, _kicks = await broker_counts(hass, broker)
    assert refusals == 0


@pytest.mark.parametrize("token_lifetime", [6.0])
async def test_token_service_down_keeps_session(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    broker: MosquittoBroker,
    token_service: TokenService,
) -> None:
    coordinator = loaded_entry.runtime_data
    serial = gateway.inverters[0].config.serial
    soc = entity_id(hass, "sensor", f"{serial}_battery_soc")
    token = coordinator.tokens.token
    assert token is not None
    connection = coordinator._connection

    token_service.failure_status = 503
    # Wait until the planned renewal has failed at least once.
    await wait_until(
        lambda: any(r.outcome == "failure_status" for r in token_service.requests),
        timeout=8,
        what="failed renewal",
    )

    assert coordinator._connection is connection
    assert coordinator.connected
    assert hass.states.get(soc).state != STATE_UNAVAILABLE
    token_service.failure_status = None
    await wait_until(
        lambda: coordinator.tokens.token is not token,
        timeout=token.seconds_left(),
        what="renewal",
    )
    await wait_until(
        lambda: coordinator._connection is not connection,
        timeout=2,
        what="switch to the new token",
    )
    assert coordinator.connected
    _attempts, refusals, kicks = await broker_counts(hass, broker)
    assert refusals == 0
    assert kicks == 0


UNKNOWN_KEY = "a-key-the-broker-does-not-know-0123456789"


@pytest.fixture
def wrong_key_service(token_service: TokenService) -> TokenService:
    """Make the token service sign with a key the broker does not know."""
    token_service.jwt_secret = UNKNOWN_KEY
    return token_service


async def test_just_issued_token_refused_at_setup(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    broker: MosquittoBroker,
    wrong_key_service: TokenService,
) -> None:
    """A fresh token that the broker rejects means a bad credential, so reauth and no retry."""
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    # Give a retrying client time to show itself.
    await asyncio.sleep(2)

    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert _issued(wrong_key_service) == 1
    attempts, refusals, _kicks = await broker_counts(hass, broker)
    assert attempts == 1
    assert refusals == 1


@pytest.mark.parametrize("token_lifetime", [2.0])
async def test_just_issued_token_refused_at_renewal(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    broker: MosquittoBroker,
    token_service: TokenService,
) -> None:
    coordinator = loaded_entry.runtime_data
    issued_before = _issued(token_service)
    attempts_before, _, _ = await broker_counts(hass, broker)

    token_service.jwt_secret = UNKNOWN_KEY
    await wait_until(lambda: coordinator.auth_failed, timeout=5, what="auth failure")
    # Past the old token's expiry: a looping client would show itself here.
    await asyncio.sleep(2.5)
    await hass.async_block_till_done()

    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert _issued(token_service) - issued_before == 1
    attempts, refusals, _kicks = await broker_counts(hass, broker)
    assert attempts - attempts_before == 1
    assert refusals == 1
    assert not coordinator.connected
