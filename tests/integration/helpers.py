"""Shared helpers of the end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

from custom_components.predbat_gateway.const import DOMAIN
from custom_components.predbat_gateway.coordinator import PredbatGatewayCoordinator


def entity_id(hass: HomeAssistant, platform: str, unique_id: str) -> str:
    """Return the entity id registered for a unique id, failing when there is none."""
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)
    assert found is not None, f"no {platform} entity with unique id {unique_id}"
    return found


async def wait_until(
    condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
) -> None:
    """Poll `condition` in the event loop until it holds, or fail after `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(
            f"timed out after {timeout} s waiting for {what}"
        ) from None


def record_unavailable(
    hass: HomeAssistant, coordinator: PredbatGatewayCoordinator, watched: str
) -> tuple[list[str], Callable[[], None]]:
    """Record each time `watched` is unavailable after a coordinator update.

    Returns the list that collects the times, and the function that stops
    the recording.
    """
    seen: list[str] = []

    def check_state() -> None:
        state = hass.states.get(watched)
        if state is not None and state.state == STATE_UNAVAILABLE:
            seen.append(state.last_changed.isoformat())

    return seen, coordinator.async_add_listener(check_state)
