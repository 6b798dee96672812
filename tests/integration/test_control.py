"""Telemetry and control through entities, against the real broker and simulator."""

from __future__ import annotations

from homeassistant.components.number import (
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.predbat_gateway.protocol.commands import Command, CommandName
from simulator.gateway import GatewaySimulator

from .helpers import entity_id, wait_until


def _serial(gateway: GatewaySimulator) -> str:
    return gateway.inverters[0].config.serial


async def test_sensors_show_simulator_values(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, gateway: GatewaySimulator
) -> None:
    serial = _serial(gateway)
    status = gateway.last_status
    assert status is not None
    battery = status.inverters[0].battery

    soc = hass.states.get(entity_id(hass, "sensor", f"{serial}_battery_soc"))
    power = hass.states.get(entity_id(hass, "sensor", f"{serial}_battery_power"))

    assert soc is not None
    assert power is not None
    coordinator = loaded_entry.runtime_data
    reported = coordinator.data.inverters[serial].battery
    assert reported is not None
    assert float(soc.state) == reported.soc_percent
    # Home Assistant's sign: positive while discharging, the firmware's opposite.
    assert float(power.state) == -reported.power_w
    assert battery.soc_percent > 0


async def test_set_charge_rate_reaches_gateway(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, gateway: GatewaySimulator
) -> None:
    serial = _serial(gateway)
    number = entity_id(hass, "number", f"{serial}_charge_rate")
    start = len(gateway.received_commands)

    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: number, ATTR_VALUE: 1800},
        blocking=True,
    )

    command = await gateway.wait_for_command(
        lambda c: c["command"] == "set_charge_rate", start=start
    )
    assert command["serial"] == serial
    assert command["power_w"] == 1800
    assert command["command_id"]
    await wait_until(
        lambda: float(hass.states.get(number).state) == 1800,
        what="charge rate 1800 shown",
    )


async def test_command_ids_unique(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, gateway: GatewaySimulator
) -> None:
    serial = _serial(gateway)
    number = entity_id(hass, "number", f"{serial}_discharge_rate")
    start = len(gateway.received_commands)

    for value in (1000, 1100, 1200):
        await hass.services.async_call(
            NUMBER_DOMAIN,
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: number, ATTR_VALUE: value},
            blocking=True,
        )
    await gateway.wait_for_command(lambda c: c.get("power_w") == 1200, start=start)

    ids = [command["command_id"] for command in gateway.received_commands[start:]]
    assert len(ids) == 3
    assert len(set(ids)) == 3


async def test_switches_reach_gateway(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, gateway: GatewaySimulator
) -> None:
    serial = _serial(gateway)
    switch = entity_id(hass, "switch", f"{serial}_discharge_enabled")
    start = len(gateway.received_commands)

    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
    )

    command = await gateway.wait_for_command(
        lambda c: c["command"] == "set_discharge_enable", start=start
    )
    assert command["serial"] == serial
    assert command["enable"] is True
    await wait_until(
        lambda: hass.states.get(switch).state == STATE_ON, what="discharge switch on"
    )

    start = len(gateway.received_commands)
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: switch}, blocking=True
    )

    command = await gateway.wait_for_command(
        lambda c: c["command"] == "set_discharge_enable", start=start
    )
    assert command["enable"] is False
    await wait_until(
        lambda: hass.states.get(switch).state == STATE_OFF, what="discharge switch off"
    )


@pytest.mark.parametrize("value", [-1, 100_000])
async def test_charge_rate_out_of_range_sends_nothing(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    value: int,
) -> None:
    serial = _serial(gateway)
    number = entity_id(hass, "number", f"{serial}_charge_rate")
    start = len(gateway.received_commands)

    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            NUMBER_DOMAIN,
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: number, ATTR_VALUE: value},
            blocking=True,
        )

    # A later, valid command is the first one the gateway receives.
    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: number, ATTR_VALUE: 500},
        blocking=True,
    )
    first = await gateway.wait_for_command(start=start)
    assert first["power_w"] == 500


async def test_command_while_disconnected_fails_and_is_not_queued(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, gateway: GatewaySimulator
) -> None:
    serial = _serial(gateway)
    number = entity_id(hass, "number", f"{serial}_reserve_soc")
    coordinator = loaded_entry.runtime_data
    start = len(gateway.received_commands)

    # Close the session as a lost connection would, before the reconnect starts.
    connection = coordinator._connection
    assert connection is not None
    coordinator._connection = None
    await connection.close()
    coordinator._async_update_availability()

    assert hass.states.get(number).state == STATE_UNAVAILABLE
    with pytest.raises(HomeAssistantError) as raised:
        await coordinator.async_send_command(
            Command(CommandName.SET_RESERVE, serial, 20)
        )
    assert raised.value.translation_key == "not_connected"
    # Home Assistant skips unavailable entities, so this sends nothing either.
    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: number, ATTR_VALUE: 20},
        blocking=True,
    )

    # Reconnect: neither refused command may be delivered late.
    coordinator._start_reconnect()
    await wait_until(lambda: coordinator.connected, what="reconnect")
    await hass.async_block_till_done()
    assert gateway.received_commands[start:] == []
