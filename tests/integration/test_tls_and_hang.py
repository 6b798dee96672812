"""A token service that stops responding, and the whole gateway session over TLS.

The broker here has a plain and a TLS listener in one mosquitto process. The
token service test connects through the plain one. The TLS tests configure
their entry, and the gateway simulator, for the TLS one only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import logging
from pathlib import Path
import re
import time
from typing import Any

from homeassistant.components.number import (
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, CONF_PORT, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.predbat_gateway.const import (
    CONF_CA_CERTIFICATE,
    CONF_REFRESH_TOKEN,
    CONF_USE_TLS,
    CONF_VERIFY_CERTIFICATE,
    DOMAIN,
)
from custom_components.predbat_gateway.protocol import tokens
from custom_components.predbat_gateway.protocol.tokens import jwt_expiry
from simulator.broker import MosquittoBroker, make_test_certificates
from simulator.gateway import GatewaySimulator
from simulator.token_service import TokenService

from ..conftest import DEVICE_ID, assert_no_secret_logged
from .helpers import (
    JWT_PREFIX,
    broker_counts,
    broker_with_tls,
    entity_id,
    track_unavailable,
    wait_until,
)

# Token request timeout in these tests, in seconds. Production uses 15 s.
SHORT_REQUEST_TIMEOUT = 0.5

# Seconds to keep watching after an access token's `exp`. The broker plugin
# drops a session at the first broker tick after `exp`.
PAST_EXPIRY = 1.0

_NEW_CONNECTION = re.compile(
    r"New connection from (?P<address>\S+) on port (?P<port>\d+)\."
)
_NEW_CLIENT = re.compile(
    r"New client connected from (?P<address>\S+) as \S+ \(.*u'(?P<username>[^']*)'\)"
)


@pytest.fixture
async def broker(
    tmp_path: Path, plugin_path: Path, loopback_sockets: None
) -> AsyncIterator[MosquittoBroker]:
    """Start the token-checking mosquitto with a plain and a TLS listener.

    This replaces the conftest broker in this module, so `entry_data` and
    `gateway` use the plain listener of the same process.
    """
    async with broker_with_tls(tmp_path, plugin_path) as mosquitto:
        yield mosquitto


@pytest.fixture
async def other_ca_pem(hass: HomeAssistant, tmp_path: Path) -> str:
    """Return the PEM text of a CA that did not sign the broker's certificate."""
    other = await hass.async_add_executor_job(
        make_test_certificates, tmp_path / "other_tls"
    )
    return await hass.async_add_executor_job(other.ca_cert.read_text)


@pytest.fixture
async def tls_gateway(broker: MosquittoBroker) -> AsyncIterator[GatewaySimulator]:
    """Start a simulated gateway that connects to the broker's TLS listener."""
    simulator = GatewaySimulator.for_broker(
        broker, use_tls=True, device_id=DEVICE_ID, interval=0.2
    )
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def add_tls_entry(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    entry_data: dict[str, Any],
) -> AsyncIterator[Callable[[str], MockConfigEntry]]:
    """Return a function that adds an entry for the TLS listener with a pasted CA.

    Entries are unloaded, whatever their state, before the broker stops.
    """

    def add(ca_certificate: str) -> MockConfigEntry:
        assert broker.tls_port is not None
        entry = MockConfigEntry(
            domain=DOMAIN,
            unique_id=DEVICE_ID,
            title=f"Predbat gateway {DEVICE_ID}",
            data={
                **entry_data,
                CONF_PORT: broker.tls_port,
                CONF_USE_TLS: True,
                CONF_VERIFY_CERTIFICATE: True,
                CONF_CA_CERTIFICATE: ca_certificate,
            },
        )
        entry.add_to_hass(hass)
        return entry

    yield add
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is not ConfigEntryState.NOT_LOADED:
            assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
def short_request_timeout(monkeypatch: pytest.MonkeyPatch) -> float:
    """Shorten the token request timeout of every TokenClient made in the test.

    Request this fixture before `loaded_entry`, whose set-up creates the client.
    """
    monkeypatch.setattr(tokens, "REQUEST_TIMEOUT", SHORT_REQUEST_TIMEOUT)
    return SHORT_REQUEST_TIMEOUT


def _session_ports(log_text: str, username: str) -> list[int]:
    """Return the listener port of every accepted MQTT session of username.

    Mosquitto logs the listener port when it accepts the TCP connection and
    the username when the CONNECT succeeds. The client address links the two.
    """
    ports: dict[str, int] = {}
    sessions: list[int] = []
    for line in log_text.splitlines():
        if connection := _NEW_CONNECTION.search(line):
            ports[connection["address"]] = int(connection["port"])
        elif (client := _NEW_CLIENT.search(line)) and client["username"] == username:
            sessions.append(ports[client["address"]])
    return sessions


def _timed_out_renewals(caplog: pytest.LogCaptureFixture) -> int:
    """Count the coordinator's warnings about token requests that timed out."""
    return sum(
        1
        for record in caplog.records
        if record.name == "custom_components.predbat_gateway"
        and record.levelno == logging.WARNING
        and "did not respond within" in record.getMessage()
    )


def _state(hass: HomeAssistant, entity: str) -> str:
    state = hass.states.get(entity)
    assert state is not None, f"{entity} has no state"
    return state.state


async def _set_charge_rate(hass: HomeAssistant, number: str, power_w: int) -> None:
    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: number, ATTR_VALUE: power_w},
        blocking=True,
    )


# A token service that stops responding.


@pytest.mark.parametrize("token_lifetime", [10.0])
async def test_token_service_hang_keeps_control(
    hass: HomeAssistant,
    short_request_timeout: float,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    broker: MosquittoBroker,
    token_service: TokenService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = loaded_entry.runtime_data
    serial = gateway.inverters[0].config.serial
    number = entity_id(hass, "number", f"{serial}_charge_rate")
    old_token = coordinator.tokens.token
    assert old_token is not None
    old_expiry = jwt_expiry(old_token.value)
    assert old_expiry is not None
    unavailable, _ = track_unavailable(hass, loaded_entry)
    requests_before = len(token_service.requests)
    sent: list[int] = []
    failures: list[HomeAssistantError] = []
    stop_sending = asyncio.Event()

    async def send_commands() -> None:
        while not stop_sending.is_set():
            sent.append(1000 + len(sent) + 1)
            try:
                await _set_charge_rate(hass, number, sent[-1])
            except HomeAssistantError as err:
                failures.append(err)
            await asyncio.sleep(0.2)

    # The planned renewal starts when a fifth of the lifetime is left, and
    # its request now gets no reply.
    token_service.hang = True
    sender = asyncio.create_task(send_commands())
    try:
        await wait_until(
            lambda: _timed_out_renewals(caplog) >= 1,
            timeout=old_token.seconds_left(),
            what="the renewal to time out",
        )
        attempts_during_hang, _, _ = await broker_counts(hass, broker)

        # Restarting the stuck service ends the held request unanswered, so the
        # request the client gave up on never rotates the refresh credential.
        port = token_service.port
        await token_service.stop()
        token_service.hang = False
        await token_service.start(port=port)
        await wait_until(
            lambda: coordinator.tokens.token is not old_token,
            timeout=old_token.seconds_left(),
            what="the retried renewal",
        )
        # Keep sending until past the old token's exp, where the broker would
        # drop a session that still used it.
        await asyncio.sleep(max(old_expiry + PAST_EXPIRY - time.time(), 0.0))
    finally:
        stop_sending.set()
        await sender

    assert failures == []
    await gateway.wait_for_command(lambda command: command.get("power_w") == sent[-1])
    received = {
        command["power_w"]
        for command in gateway.received_commands
        if command["command"] == "set_charge_rate"
    }
    assert received == set(sent)
    assert unavailable == []
    assert attempts_during_hang == 1
    outcomes = [request.outcome for request in token_service.requests]
    assert outcomes[requests_before:] == ["aborted", "issued"]
    attempts, refusals, kicks = await broker_counts(hass, broker)
    assert attempts == 2
    assert refusals == 0
    assert kicks == 0
    new_token = coordinator.tokens.token
    assert new_token is not None
    assert new_token.expires_at > old_token.expires_at
    assert coordinator.connected
    assert not coordinator.auth_failed


# The whole session over TLS.


@pytest.mark.parametrize("token_lifetime", [4.0])
async def test_tls_session_controls_and_renews(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    tls_gateway: GatewaySimulator,
    add_tls_entry: Callable[[str], MockConfigEntry],
    ca_pem: str,
) -> None:
    entry = add_tls_entry(ca_pem)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    coordinator = entry.runtime_data
    assert coordinator.connected
    serial = tls_gateway.inverters[0].config.serial
    soc = entity_id(hass, "sensor", f"{serial}_battery_soc")
    online = entity_id(hass, "binary_sensor", f"{DEVICE_ID}_online")
    number = entity_id(hass, "number", f"{serial}_charge_rate")
    assert _state(hass, online) == STATE_ON

    # A state of charge different from the one shown proves that new
    # telemetry arrives over TLS.
    tls_gateway.paused = True
    soc_before = _state(hass, soc)
    tls_gateway.inverters[0].soc = 80.0 if float(soc_before) < 50 else 20.0
    status = tls_gateway.publish_status_now()
    expected_soc = status.inverters[0].battery.soc_percent
    assert str(expected_soc) != soc_before
    await wait_until(
        lambda: _state(hass, soc) == str(expected_soc),
        what=f"state of charge {expected_soc} shown",
    )
    tls_gateway.paused = False

    await _set_charge_rate(hass, number, 1700)
    command = await tls_gateway.wait_for_command(
        lambda c: c["command"] == "set_charge_rate"
    )
    assert command["serial"] == serial
    assert command["power_w"] == 1700

    old_token = coordinator.tokens.token
    assert old_token is not None
    old_expiry = jwt_expiry(old_token.value)
    assert old_expiry is not None
    unavailable, _ = track_unavailable(hass, entry)
    await wait_until(
        lambda: coordinator.tokens.token is not old_token,
        timeout=old_token.seconds_left(),
        what="the planned renewal",
    )
    # Wait past the old token's exp, where the broker would drop a session
    # that still used it.
    await asyncio.sleep(max(old_expiry + PAST_EXPIRY - time.time(), 0.0))

    start = len(tls_gateway.received_commands)
    await _set_charge_rate(hass, number, 2100)
    command = await tls_gateway.wait_for_command(
        lambda c: c["command"] == "set_charge_rate", start=start
    )
    assert command["power_w"] == 2100
    assert unavailable == []
    assert coordinator.connected
    attempts, refusals, kicks = await broker_counts(hass, broker)
    assert attempts == 2
    assert refusals == 0
    assert kicks == 0
    log_text = await hass.async_add_executor_job(broker.log_text)
    assert _session_ports(log_text, DEVICE_ID) == [broker.tls_port, broker.tls_port]


async def test_tls_wrong_ca_retries_setup(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    add_tls_entry: Callable[[str], MockConfigEntry],
    other_ca_pem: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    entry = add_tls_entry(other_ca_pem)
    first_credential = entry.data[CONF_REFRESH_TOKEN]

    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert "CERTIFICATE_VERIFY_FAILED" in entry.reason
    not_ready = [
        record.getMessage()
        for record in caplog.records
        if "not ready yet" in record.getMessage()
    ]
    assert len(not_ready) == 1
    assert f"TLS handshake with {broker.host}:{broker.tls_port} failed" in not_ready[0]
    assert "CERTIFICATE_VERIFY_FAILED" in not_ready[0]
    # The reason names the cause, so the user knows to check the CA.
    assert "unable to get local issuer certificate" in not_ready[0]
    # The handshake failed before CONNECT, so no token reached a broker
    # whose certificate could not be verified.
    attempts, _, _ = await broker_counts(hass, broker)
    assert attempts == 0
    assert_no_secret_logged(caplog, [first_credential, entry.data[CONF_REFRESH_TOKEN]])
    assert JWT_PREFIX not in caplog.text
