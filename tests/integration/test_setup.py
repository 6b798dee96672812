"""Setting up the integration against the real broker and simulator."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from simulator.gateway import GatewaySimulator
from simulator.token_service import TokenService


async def test_setup_connects_and_unload_closes(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    token_service: TokenService,
) -> None:
    coordinator = loaded_entry.runtime_data

    assert coordinator.connected
    assert coordinator.data.status is not None
    assert set(coordinator.data.inverters) == {
        inverter.config.serial for inverter in gateway.inverters
    }
    assert token_service.issued == 1

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()

    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    assert not coordinator.connected
