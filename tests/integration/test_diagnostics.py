"""Diagnostics show the session state and never a secret."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from simulator.gateway import GatewaySimulator


async def test_diagnostics_redact_secrets(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
) -> None:
    coordinator = loaded_entry.runtime_data
    token = coordinator.tokens.token
    assert token is not None

    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, loaded_entry
    )
    text = json.dumps(diagnostics)

    assert token.value not in text
    assert loaded_entry.data["refresh_token"] not in text
    assert loaded_entry.data["token_url"] not in text
    inverter_ip = gateway.last_status.inverters[0].ip
    assert inverter_ip
    assert inverter_ip not in text
    assert diagnostics["status"]["inverters"][0]["ip"] == "**REDACTED**"
    assert diagnostics["session"]["connected"] is True
    assert diagnostics["session"]["mqtt_version"] == "5"
    assert diagnostics["session"]["token_renewals"] == 1
    assert (
        diagnostics["status"]["inverters"][0]["serial"]
        == gateway.inverters[0].config.serial
    )
