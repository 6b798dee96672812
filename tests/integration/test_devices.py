"""Deleting inverter devices, against the real broker and simulator.

The gateway here reports two inverters, because the coordinator ignores a
status with no inverters at all. Each test that retires an inverter takes the
second one out of `GatewaySimulator.inverters`, the list that each status is
built from, so later statuses leave its serial out. A test may put it back to
model the unit returning.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import (
    MockHAClientWebSocket,
    WebSocketGenerator,
)

from custom_components.predbat_gateway.const import DOMAIN
from custom_components.predbat_gateway.coordinator import PredbatGatewayCoordinator
from simulator.broker import MosquittoBroker
from simulator.gateway import GatewaySimulator
from simulator.model import InverterConfig, InverterState

from ..conftest import DEVICE_ID
from .helpers import wait_until

KEPT_SERIAL = "SIM0000001"
RETIRED_SERIAL = "SIM0000002"
REJECTED_BY_INTEGRATION = "Failed to remove device entry, rejected by integration"


@pytest.fixture
async def gateway(broker: MosquittoBroker) -> AsyncIterator[GatewaySimulator]:
    """Start a simulated gateway with two GivEnergy inverters."""
    simulator = GatewaySimulator.for_broker(
        broker,
        device_id=DEVICE_ID,
        inverters=[
            InverterConfig(serial=KEPT_SERIAL),
            InverterConfig(
                serial=RETIRED_SERIAL, primary=False, dongle_serial="WF0000002"
            ),
        ],
        interval=0.2,
    )
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def ws_client(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> MockHAClientWebSocket:
    """Return a websocket client of Home Assistant's device registry commands."""
    assert await async_setup_component(hass, "config", {})
    return await hass_ws_client(hass)


def _device(hass: HomeAssistant, identifier: str) -> dr.DeviceEntry | None:
    """Return the entry's device with this serial or gateway device id."""
    entries = hass.config_entries.async_entries(DOMAIN)
    assert len(entries) == 1
    return dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, identifier), entries[0].entry_id
    )


def _inverter_unique_ids(hass: HomeAssistant, serial: str) -> dict[str, str]:
    """Return the platform of each entity of the inverter's device, by unique id."""
    device = _device(hass, serial)
    assert device is not None, f"no device for inverter {serial}"
    entries = er.async_entries_for_device(
        er.async_get(hass), device.id, include_disabled_entities=True
    )
    return {entry.unique_id: entry.domain for entry in entries}


def _registered_entity_id(
    hass: HomeAssistant, platform: str, unique_id: str
) -> str | None:
    return er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)


async def _wait_for_statuses(
    coordinator: PredbatGatewayCoordinator, count: int
) -> None:
    """Wait until the coordinator has handled `count` more statuses."""
    for _ in range(count):
        previous = coordinator.data.received_at

        def status_handled(previous: float | None = previous) -> bool:
            return coordinator.data.received_at != previous

        await wait_until(status_handled, what="next status")


async def _stop_reporting(
    hass: HomeAssistant,
    gateway: GatewaySimulator,
    coordinator: PredbatGatewayCoordinator,
) -> InverterState:
    """Take the retired inverter out of the simulator and wait until a status leaves it out."""
    state = gateway.inverter(RETIRED_SERIAL)
    gateway.inverters.remove(state)
    await wait_until(
        lambda: RETIRED_SERIAL not in coordinator.data.inverters,
        what=f"a status without {RETIRED_SERIAL}",
    )
    await hass.async_block_till_done()
    return state


async def _remove_device(
    hass: HomeAssistant, ws_client: MockHAClientWebSocket, identifier: str
) -> dict[str, Any]:
    """Send the websocket command `config/device_registry/remove` for a device."""
    device = _device(hass, identifier)
    assert device is not None, f"no device for {identifier}"
    response: dict[str, Any] = await ws_client.remove_device(device.id)
    await hass.async_block_till_done()
    return response


def _assert_rejected(response: dict[str, Any]) -> None:
    assert response["success"] is False
    assert response["error"]["message"] == REJECTED_BY_INTEGRATION


async def test_reported_inverter_device_kept(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    ws_client: MockHAClientWebSocket,
) -> None:
    for serial in (KEPT_SERIAL, RETIRED_SERIAL):
        unique_ids = _inverter_unique_ids(hass, serial)
        assert unique_ids

        response = await _remove_device(hass, ws_client, serial)

        _assert_rejected(response)
        assert _device(hass, serial) is not None
        assert _inverter_unique_ids(hass, serial) == unique_ids


async def test_gateway_device_kept(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    ws_client: MockHAClientWebSocket,
) -> None:
    # Even with an inverter gone, the gateway's own device stays.
    await _stop_reporting(hass, gateway, loaded_entry.runtime_data)

    response = await _remove_device(hass, ws_client, DEVICE_ID)

    _assert_rejected(response)
    assert _device(hass, DEVICE_ID) is not None


async def test_gateway_device_kept_while_unloaded(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    ws_client: MockHAClientWebSocket,
) -> None:
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED

    gateway_response = await _remove_device(hass, ws_client, DEVICE_ID)
    inverter_response = await _remove_device(hass, ws_client, RETIRED_SERIAL)

    _assert_rejected(gateway_response)
    assert _device(hass, DEVICE_ID) is not None
    # With no telemetry there is no reported serial to protect.
    assert inverter_response["success"] is True
    assert _device(hass, RETIRED_SERIAL) is None


async def test_absent_inverter_device_removed(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    ws_client: MockHAClientWebSocket,
) -> None:
    coordinator = loaded_entry.runtime_data
    unique_ids = _inverter_unique_ids(hass, RETIRED_SERIAL)
    entity_ids = {
        _registered_entity_id(hass, platform, unique_id)
        for unique_id, platform in unique_ids.items()
    }
    await _stop_reporting(hass, gateway, coordinator)

    response = await _remove_device(hass, ws_client, RETIRED_SERIAL)

    assert response["success"] is True
    assert _device(hass, RETIRED_SERIAL) is None
    for unique_id, platform in unique_ids.items():
        assert _registered_entity_id(hass, platform, unique_id) is None, unique_id
    for entity_id in entity_ids:
        assert entity_id is not None
        assert hass.states.get(entity_id) is None, entity_id
    # The inverter that is still reported keeps its device and entities.
    assert _device(hass, KEPT_SERIAL) is not None
    assert _inverter_unique_ids(hass, KEPT_SERIAL)

    # Later statuses without the serial do not bring the device back.
    await _wait_for_statuses(coordinator, 3)
    await hass.async_block_till_done()
    assert _device(hass, RETIRED_SERIAL) is None
    for unique_id, platform in unique_ids.items():
        assert _registered_entity_id(hass, platform, unique_id) is None, unique_id


async def test_returning_inverter_gets_entities(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    ws_client: MockHAClientWebSocket,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = loaded_entry.runtime_data
    unique_ids = _inverter_unique_ids(hass, RETIRED_SERIAL)
    retired = await _stop_reporting(hass, gateway, coordinator)
    response = await _remove_device(hass, ws_client, RETIRED_SERIAL)
    assert response["success"] is True
    assert _device(hass, RETIRED_SERIAL) is None

    gateway.inverters.append(retired)
    await wait_until(
        lambda: RETIRED_SERIAL in coordinator.data.inverters,
        what=f"a status with {RETIRED_SERIAL}",
    )
    await hass.async_block_till_done()

    device = _device(hass, RETIRED_SERIAL)
    assert device is not None
    gateway_device = _device(hass, DEVICE_ID)
    assert gateway_device is not None
    assert device.via_device_id == gateway_device.id
    assert _inverter_unique_ids(hass, RETIRED_SERIAL) == unique_ids
    entity_registry = er.async_get(hass)
    for unique_id, platform in unique_ids.items():
        entity_id = _registered_entity_id(hass, platform, unique_id)
        assert entity_id is not None, unique_id
        entry = entity_registry.async_get(entity_id)
        assert entry is not None
        if entry.disabled_by is not None:
            continue
        state = hass.states.get(entity_id)
        assert state is not None, entity_id
        assert state.state not in (STATE_UNAVAILABLE, STATE_UNKNOWN), entity_id
    soc_entity_id = _registered_entity_id(
        hass, "sensor", f"{RETIRED_SERIAL}_battery_soc"
    )
    assert soc_entity_id is not None
    soc = hass.states.get(soc_entity_id)
    assert soc is not None
    battery = coordinator.data.inverters[RETIRED_SERIAL].battery
    assert battery is not None
    assert float(soc.state) == battery.soc_percent
    errors = [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.ERROR
    ]
    assert errors == []
