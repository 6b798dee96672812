"""Bad payloads, an offline gateway and a broker that stops responding."""

from __future__ import annotations

import logging
import os
import signal

from homeassistant.components.number import (
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from simulator.broker import MosquittoBroker
from simulator.gateway import GatewaySimulator

from ..conftest import DEVICE_ID
from .helpers import entity_id, wait_until


async def test_malformed_and_empty_payloads_change_nothing(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = loaded_entry.runtime_data
    serial = gateway.inverters[0].config.serial
    soc = entity_id(hass, "sensor", f"{serial}_battery_soc")
    # Stop the periodic status so only the bad payloads arrive.
    await gateway._cancel_publisher()
    await hass.async_block_till_done()
    status_before = coordinator.data.status
    state_before = hass.states.get(soc)

    for payload in (b"\xff\xff\xff", b"", b"not protobuf at all", b"\x0a\x10abc"):
        gateway.publish_raw_status(payload)
    gateway.set_online(True)
    # The next good status proves the bad ones were read and passed over.
    gateway.publish_raw_status(
        b"\x08\x01"
    )  # a status with no inverters: changes nothing
    await wait_until(
        lambda: sum("does not decode" in r.getMessage() for r in caplog.records) >= 1,
        what="decode warning",
    )
    await hass.async_block_till_done()

    assert coordinator.data.status is status_before
    assert hass.states.get(soc).state == state_before.state
    assert coordinator.connected
    warnings = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and "does not decode" in r.getMessage()
    ]
    assert len(warnings) == 1


async def test_foreign_status_and_bad_online_ignored(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A status naming another gateway, or an online flag not 0 or 1, changes nothing."""
    coordinator = loaded_entry.runtime_data
    serial = gateway.inverters[0].config.serial
    soc = entity_id(hass, "sensor", f"{serial}_battery_soc")
    await gateway._cancel_publisher()
    # One last good status, copied below with another gateway's device id.
    foreign = gateway.publish_status_now()
    await wait_until(
        lambda: (
            coordinator.data.status is not None
            and coordinator.data.status.timestamp == foreign.timestamp
        ),
        what="the last good status",
    )
    await hass.async_block_till_done()
    state_before = hass.states.get(soc)
    foreign.device_id = "pbgw_someone_else"
    foreign.inverters[0].battery.soc_percent = 3

    for _ in range(2):
        gateway.publish_raw_status(foreign.SerializeToString())
        gateway.publish_raw_online(b"maybe")
    # A good flag last: once it is in, both bad messages were read.
    gateway.set_online(False)
    await wait_until(lambda: coordinator.data.online is False, what="online flag")
    gateway.set_online(True)
    await wait_until(lambda: coordinator.data.online is True, what="online flag")
    await hass.async_block_till_done()

    assert coordinator.data.status is not None
    assert coordinator.data.status.device_id == DEVICE_ID
    assert hass.states.get(soc).state == state_before.state
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("names gateway pbgw_someone_else" in w for w in warnings) == 1
    assert sum("not 0 or 1" in w for w in warnings) == 1


async def test_offline_gateway_unavailable_logged_once(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    serial = gateway.inverters[0].config.serial
    soc = entity_id(hass, "sensor", f"{serial}_battery_soc")
    online = entity_id(hass, "binary_sensor", f"{DEVICE_ID}_online")
    assert hass.states.get(online).state == STATE_ON

    gateway.set_online(False)
    await wait_until(
        lambda: hass.states.get(soc).state == STATE_UNAVAILABLE,
        what="unavailable while offline",
    )
    # Status keeps arriving while offline: the warning must not repeat.
    gateway.publish_status_now()
    gateway.publish_status_now()
    await hass.async_block_till_done()

    assert hass.states.get(online).state == STATE_OFF
    gateway.set_online(True)
    await wait_until(
        lambda: hass.states.get(soc).state != STATE_UNAVAILABLE, what="available again"
    )

    messages = [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if "predbat_gateway" in r.name
    ]
    assert [m for m in messages if m[0] == "WARNING" and "unavailable" in m[1]] == [
        ("WARNING", f"Gateway {DEVICE_ID} is unavailable: the gateway is offline")
    ]
    assert [m for m in messages if m[0] == "INFO" and "available again" in m[1]] == [
        ("INFO", f"Gateway {DEVICE_ID} is available again")
    ]


async def test_unacknowledged_command_raises(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    broker: MosquittoBroker,
) -> None:
    serial = gateway.inverters[0].config.serial
    number = entity_id(hass, "number", f"{serial}_target_soc")
    pid = broker.pid
    assert pid is not None

    # A frozen broker keeps the TCP connection open but sends no PUBACK.
    os.kill(pid, signal.SIGSTOP)
    try:
        with pytest.raises(HomeAssistantError) as raised:
            await hass.services.async_call(
                NUMBER_DOMAIN,
                SERVICE_SET_VALUE,
                {ATTR_ENTITY_ID: number, ATTR_VALUE: 80},
                blocking=True,
            )
    finally:
        os.kill(pid, signal.SIGCONT)

    assert raised.value.translation_key == "command_timeout"
