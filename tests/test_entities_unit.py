"""Entity platforms fed by a coordinator that has no MQTT session.

The coordinator's connect step is patched out: each test hands it status
payloads the way the MQTT connection would, and records the commands the
entities send instead of publishing them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import time
import json
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, PropertyMock, patch

from google.protobuf import json_format
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    CONF_HOST,
    CONF_PORT,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.predbat_gateway.const import CONF_DEVICE_ID, CONF_USE_TLS, DOMAIN
from custom_components.predbat_gateway.coordinator import PredbatGatewayCoordinator
from custom_components.predbat_gateway.number import DEFAULT_RATE_MAX_W
from custom_components.predbat_gateway.protocol import predbat_pb2 as pb
from custom_components.predbat_gateway.protocol.commands import Command, CommandName
from custom_components.predbat_gateway.time import hhmm_to_time, time_to_hhmm

FIXTURES = Path(__file__).parent / "fixtures"
GATEWAY_ID = "pbgw_5f3a9c"
SERIAL = "CE2330G499"


def sample_status() -> pb.GatewayStatus:
    """Return the recorded GivEnergy status as a message the test may change."""
    raw = json.loads((FIXTURES / "single_givenergy.json").read_text())
    return json_format.ParseDict(raw, pb.GatewayStatus())


class Harness:
    """A loaded entry whose coordinator takes payloads and records commands."""

    def __init__(
        self, hass: HomeAssistant, entry: MockConfigEntry, sent: AsyncMock
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.sent = sent
        self.connected = True

    @property
    def coordinator(self) -> PredbatGatewayCoordinator:
        coordinator: PredbatGatewayCoordinator = self.entry.runtime_data
        return coordinator

    async def push(self, status: pb.GatewayStatus) -> None:
        self.coordinator._handle_status(status.SerializeToString())
        await self.hass.async_block_till_done()

    async def push_online(self, payload: bytes) -> None:
        self.coordinator._handle_online(payload)
        await self.hass.async_block_till_done()

    def entity_id(self, platform: str, unique_id: str) -> str:
        entity_id = er.async_get(self.hass).async_get_entity_id(
            platform, DOMAIN, unique_id
        )
        assert entity_id is not None, f"no {platform} entity with unique id {unique_id}"
        return entity_id

    def state(self, platform: str, unique_id: str) -> str:
        state = self.hass.states.get(self.entity_id(platform, unique_id))
        assert state is not None
        return state.state

    def commands(self) -> list[Command]:
        return [call.args[0] for call in self.sent.await_args_list]


@pytest.fixture
async def harness(hass: HomeAssistant) -> AsyncIterator[Harness]:
    """Load the integration without a broker and feed it the recorded status."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=GATEWAY_ID,
        title=f"Predbat gateway {GATEWAY_ID}",
        data={
            CONF_DEVICE_ID: GATEWAY_ID,
            CONF_HOST: "127.0.0.1",
            CONF_PORT: 1883,
            CONF_USE_TLS: False,
        },
    )
    entry.add_to_hass(hass)
    sent = AsyncMock()
    harness = Harness(hass, entry, sent)
    with (
        patch.object(PredbatGatewayCoordinator, "_async_setup", AsyncMock()),
        patch.object(PredbatGatewayCoordinator, "async_send_command", sent),
        patch.object(
            PredbatGatewayCoordinator,
            "connected",
            new_callable=PropertyMock,
            side_effect=lambda: harness.connected,
        ),
    ):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        await harness.push_online(b"1")
        await harness.push(sample_status())
        yield harness
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_sensor_states_follow_sign_conventions(harness: Harness) -> None:
    # The sample battery power is -977 W (discharging) and grid power is
    # -350 W (importing) in the firmware's convention.
    assert harness.state("sensor", f"{SERIAL}_battery_power") == "977"
    assert harness.state("sensor", f"{SERIAL}_battery_current") == "18.5"
    assert harness.state("sensor", f"{SERIAL}_grid_power") == "350"
    assert harness.state("sensor", f"{SERIAL}_battery_soc") == "63"
    assert harness.state("sensor", f"{SERIAL}_pv_power") == "2140"
    assert harness.state("sensor", f"{SERIAL}_load_power") == "3467"
    assert harness.state("sensor", f"{SERIAL}_battery_capacity") == "9.5"
    assert harness.state("sensor", f"{SERIAL}_pv_energy_today") == "12.84"
    assert harness.state("sensor", f"{SERIAL}_grid_import_today") == "7.321"
    assert harness.state("sensor", f"{SERIAL}_battery_soh") == "97"


async def test_sensor_zero_battery_current_not_negative(harness: Harness) -> None:
    status = sample_status()
    status.inverters[0].battery.current_a = 0.0
    status.inverters[0].battery.power_w = 0
    await harness.push(status)

    assert harness.state("sensor", f"{SERIAL}_battery_current") == "0.0"
    assert harness.state("sensor", f"{SERIAL}_battery_power") == "0"


async def test_energy_sensor_attributes(harness: Harness) -> None:
    state = harness.hass.states.get(
        harness.entity_id("sensor", f"{SERIAL}_consumption_today")
    )
    assert state is not None
    assert state.attributes["device_class"] == "energy"
    assert state.attributes["state_class"] == "total_increasing"
    assert state.attributes["unit_of_measurement"] == "kWh"


async def test_gateway_sensors(harness: Harness) -> None:
    registry = er.async_get(harness.hass)
    wifi = registry.async_get(harness.entity_id("sensor", f"{GATEWAY_ID}_wifi_signal"))
    heap = registry.async_get(harness.entity_id("sensor", f"{GATEWAY_ID}_free_heap"))
    assert wifi is not None
    assert wifi.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert heap is not None
    assert heap.disabled_by is er.RegistryEntryDisabler.INTEGRATION

    restart = harness.hass.states.get(
        harness.entity_id("sensor", f"{GATEWAY_ID}_last_restart")
    )
    assert restart is not None
    assert restart.attributes["device_class"] == "timestamp"
    assert restart.state != STATE_UNAVAILABLE


async def test_boot_time_ignores_jitter(harness: Harness) -> None:
    unique_id = f"{GATEWAY_ID}_last_restart"
    first = harness.state("sensor", unique_id)

    status = sample_status()
    status.uptime_seconds += 3
    await harness.push(status)
    assert harness.state("sensor", unique_id) == first

    status.uptime_seconds = 30
    await harness.push(status)
    assert harness.state("sensor", unique_id) != first


async def test_devices_and_via_device(harness: Harness) -> None:
    registry = dr.async_get(harness.hass)
    gateway = registry.async_get_device_by_identifier(
        (DOMAIN, GATEWAY_ID), harness.entry.entry_id
    )
    inverter = registry.async_get_device_by_identifier(
        (DOMAIN, SERIAL), harness.entry.entry_id
    )
    assert gateway is not None
    assert gateway.sw_version == "1.4.2"
    assert gateway.manufacturer == "Predbat"
    assert gateway.model == "Gateway"
    assert gateway.name == f"Predbat gateway {GATEWAY_ID}"
    assert inverter is not None
    assert inverter.manufacturer == "GivEnergy"
    assert inverter.model == "Hybrid Gen3"
    assert inverter.serial_number == SERIAL
    assert inverter.via_device_id == gateway.id


async def test_firmware_update_reaches_device(harness: Harness) -> None:
    status = sample_status()
    status.firmware = "1.5.0"
    await harness.push(status)

    gateway = dr.async_get(harness.hass).async_get_device_by_identifier(
        (DOMAIN, GATEWAY_ID), harness.entry.entry_id
    )
    assert gateway is not None
    assert gateway.sw_version == "1.5.0"


async def test_inverter_added_later(harness: Harness) -> None:
    status = sample_status()
    second = status.inverters.add()
    second.CopyFrom(status.inverters[0])
    second.serial = "SA2330G001"
    second.type = pb.INVERTER_TYPE_SOLIS_HYBRID
    second.model = ""
    await harness.push(status)

    assert harness.state("sensor", "SA2330G001_battery_power") == "977"
    assert harness.state("number", "SA2330G001_charge_rate") == "2600"
    device = dr.async_get(harness.hass).async_get_device_by_identifier(
        (DOMAIN, "SA2330G001"), harness.entry.entry_id
    )
    assert device is not None
    assert device.manufacturer == "Solis"
    assert device.model == "Solis hybrid"


async def test_section_without_values_adds_nothing(harness: Harness) -> None:
    status = sample_status()
    bare = status.inverters.add()
    bare.serial = "DM0000001"
    bare.type = pb.INVERTER_TYPE_DEMO
    await harness.push(status)

    registry = er.async_get(harness.hass)
    assert (
        registry.async_get_entity_id("sensor", DOMAIN, "DM0000001_battery_power")
        is None
    )
    assert (
        registry.async_get_entity_id("number", DOMAIN, "DM0000001_charge_rate") is None
    )

    bare.battery.soc_percent = 40
    await harness.push(status)
    assert harness.state("sensor", "DM0000001_battery_soc") == "40"
    # SoH 0 is "not reported", so its entity waits for a real value.
    assert (
        registry.async_get_entity_id("sensor", DOMAIN, "DM0000001_battery_soh") is None
    )


async def test_vanished_inverter_unavailable(harness: Harness) -> None:
    status = sample_status()
    status.inverters[0].serial = "OTHER0001"
    await harness.push(status)

    assert harness.state("sensor", f"{SERIAL}_battery_power") == STATE_UNAVAILABLE
    assert harness.state("switch", f"{SERIAL}_charge_enabled") == STATE_UNAVAILABLE


async def test_offline_gateway_online_sensor_off(harness: Harness) -> None:
    online = f"{GATEWAY_ID}_online"
    assert harness.state("binary_sensor", online) == STATE_ON

    await harness.push_online(b"0")
    assert harness.state("binary_sensor", online) == STATE_OFF
    assert harness.state("sensor", f"{SERIAL}_battery_power") == STATE_UNAVAILABLE
    assert harness.state("sensor", f"{GATEWAY_ID}_last_restart") == STATE_UNAVAILABLE

    await harness.push_online(b"1")
    assert harness.state("binary_sensor", online) == STATE_ON
    assert harness.state("sensor", f"{SERIAL}_battery_power") == "977"


async def test_session_down_online_unavailable(harness: Harness) -> None:
    harness.connected = False
    harness.coordinator.async_update_listeners()
    await harness.hass.async_block_till_done()

    assert harness.state("binary_sensor", f"{GATEWAY_ID}_online") == STATE_UNAVAILABLE
    assert harness.state("sensor", f"{SERIAL}_battery_power") == STATE_UNAVAILABLE


async def test_stale_telemetry_online_off(harness: Harness) -> None:
    assert harness.coordinator.data.received_at is not None
    harness.coordinator.data.received_at -= 1000
    harness.coordinator.async_update_listeners()
    await harness.hass.async_block_till_done()

    assert harness.state("binary_sensor", f"{GATEWAY_ID}_online") == STATE_OFF
    assert harness.state("number", f"{SERIAL}_charge_rate") == STATE_UNAVAILABLE


async def call(
    harness: Harness, domain: str, service: str, unique_id: str, **data: Any
) -> None:
    await harness.hass.services.async_call(
        domain,
        service,
        {"entity_id": harness.entity_id(domain, unique_id), **data},
        blocking=True,
    )


async def test_number_sends_command(harness: Harness) -> None:
    await call(harness, "number", "set_value", f"{SERIAL}_charge_rate", value=3000)

    assert harness.commands() == [Command(CommandName.SET_CHARGE_RATE, SERIAL, 3000)]
    # No optimistic state: the gateway has not reported the new rate yet.
    assert harness.state("number", f"{SERIAL}_charge_rate") == "2600"


async def test_number_reserve_and_target(harness: Harness) -> None:
    await call(harness, "number", "set_value", f"{SERIAL}_reserve_soc", value=10)
    await call(harness, "number", "set_value", f"{SERIAL}_target_soc", value=90)

    assert harness.commands() == [
        Command(CommandName.SET_RESERVE, SERIAL, 10),
        Command(CommandName.SET_TARGET_SOC, SERIAL, 90),
    ]


async def test_number_max_from_battery(harness: Harness) -> None:
    state = harness.hass.states.get(
        harness.entity_id("number", f"{SERIAL}_discharge_rate")
    )
    assert state is not None
    assert state.attributes["max"] == 3600
    assert state.attributes["min"] == 0


async def test_number_max_fallbacks(harness: Harness) -> None:
    status = sample_status()
    status.inverters[0].battery.rate_max_w = 0
    await harness.push(status)
    state = harness.hass.states.get(
        harness.entity_id("number", f"{SERIAL}_charge_rate")
    )
    assert state is not None
    assert state.attributes["max"] == 5000

    status.inverters[0].inverter.rate_max_w = 0
    await harness.push(status)
    state = harness.hass.states.get(
        harness.entity_id("number", f"{SERIAL}_charge_rate")
    )
    assert state is not None
    assert state.attributes["max"] == DEFAULT_RATE_MAX_W


@pytest.mark.parametrize("value", [-1, 3601])
async def test_number_out_of_range_rejected(harness: Harness, value: int) -> None:
    with pytest.raises(ServiceValidationError):
        await call(harness, "number", "set_value", f"{SERIAL}_charge_rate", value=value)
    assert harness.commands() == []


@pytest.mark.parametrize("value", [-1.0, 3600.5, float("nan")])
async def test_number_entity_rejects_direct_value(
    harness: Harness, value: float
) -> None:
    """Cover the entity's own check, which the service layer normally hides."""
    component = harness.hass.data["entity_components"]["number"]
    entity = component.get_entity(harness.entity_id("number", f"{SERIAL}_charge_rate"))
    assert entity is not None

    with pytest.raises(ServiceValidationError) as excinfo:
        await entity.async_set_native_value(value)
    assert excinfo.value.translation_key == "value_out_of_range"
    assert harness.commands() == []


async def test_switch_sends_command(harness: Harness) -> None:
    assert harness.state("switch", f"{SERIAL}_charge_enabled") == STATE_ON
    assert harness.state("switch", f"{SERIAL}_discharge_enabled") == STATE_OFF

    await call(harness, "switch", "turn_off", f"{SERIAL}_charge_enabled")
    await call(harness, "switch", "turn_on", f"{SERIAL}_discharge_enabled")

    assert harness.commands() == [
        Command(CommandName.SET_CHARGE_ENABLE, SERIAL, False),
        Command(CommandName.SET_DISCHARGE_ENABLE, SERIAL, True),
    ]
    assert harness.state("switch", f"{SERIAL}_charge_enabled") == STATE_ON


async def test_command_error_reaches_caller(harness: Harness) -> None:
    harness.sent.side_effect = HomeAssistantError("not connected")

    with pytest.raises(HomeAssistantError):
        await call(harness, "switch", "turn_on", f"{SERIAL}_discharge_enabled")


async def test_time_states_and_commands(harness: Harness) -> None:
    assert harness.state("time", f"{SERIAL}_charge_slot_start") == "01:30:00"
    assert harness.state("time", f"{SERIAL}_discharge_slot_end") == "19:00:00"

    await call(
        harness, "time", "set_value", f"{SERIAL}_charge_slot_end", time="05:15:00"
    )
    await call(
        harness, "time", "set_value", f"{SERIAL}_discharge_slot_start", time="00:00:00"
    )

    assert harness.commands() == [
        Command(CommandName.SET_CHARGE_SLOT, SERIAL, '{"end":515}'),
        Command(CommandName.SET_DISCHARGE_SLOT, SERIAL, '{"start":0}'),
    ]


async def test_time_end_of_day_and_invalid(harness: Harness) -> None:
    status = sample_status()
    status.inverters[0].schedule.discharge_end = 2400
    status.inverters[0].schedule.charge_end = 2575
    await harness.push(status)

    assert harness.state("time", f"{SERIAL}_discharge_slot_end") == "00:00:00"
    assert harness.state("time", f"{SERIAL}_charge_slot_end") == STATE_UNAVAILABLE


@pytest.mark.parametrize(
    ("hhmm", "expected"),
    [
        (0, time(0, 0)),
        (130, time(1, 30)),
        (2359, time(23, 59)),
        (2400, time(0, 0)),
        (2360, None),
        (2500, None),
    ],
)
def test_hhmm_to_time(hhmm: int, expected: time | None) -> None:
    assert hhmm_to_time(hhmm) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(time(0, 0), 0), (time(1, 30, 45), 130), (time(23, 59), 2359)],
)
def test_time_to_hhmm(value: time, expected: int) -> None:
    assert time_to_hhmm(value) == expected


def test_translations_match_strings() -> None:
    component = Path(__file__).parents[1] / "custom_components" / DOMAIN
    strings = json.loads((component / "strings.json").read_text())
    english = json.loads((component / "translations" / "en.json").read_text())
    assert english == strings


def test_every_translation_key_has_a_name() -> None:
    from custom_components.predbat_gateway import (
        binary_sensor,
        number,
        sensor,
        switch,
        time as time_platform,
    )

    component = Path(__file__).parents[1] / "custom_components" / DOMAIN
    names = json.loads((component / "strings.json").read_text())["entity"]
    platforms: dict[str, Callable[[], list[Any]]] = {
        "binary_sensor": lambda: [binary_sensor.ONLINE_DESCRIPTION],
        "number": lambda: list(number.NUMBERS),
        "sensor": lambda: [*sensor.INVERTER_SENSORS, *sensor.GATEWAY_SENSORS],
        "switch": lambda: list(switch.SWITCHES),
        "time": lambda: list(time_platform.TIMES),
    }
    for platform, descriptions in platforms.items():
        for description in descriptions():
            assert description.translation_key in names[platform], (
                platform,
                description.key,
            )
