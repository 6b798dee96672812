"""Shared helpers of the end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from pathlib import Path

from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

from custom_components.predbat_gateway.const import DOMAIN
from custom_components.predbat_gateway.coordinator import PredbatGatewayCoordinator
from simulator.broker import MosquittoBroker, make_test_certificates

from ..conftest import JWT_SECRET

# Every JWT starts with the base64url encoding of `{"`, so this finds any
# access token in a log line without knowing its value.
JWT_PREFIX = "eyJ"


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


@contextlib.asynccontextmanager
async def broker_with_tls(
    tmp_path: Path, plugin_path: Path
) -> AsyncIterator[MosquittoBroker]:
    """Run the token-checking mosquitto with a plain and a TLS listener.

    Making certificates and starting and stopping the broker block, so they
    run in the executor.
    """
    loop = asyncio.get_running_loop()
    certificates = await loop.run_in_executor(
        None, make_test_certificates, tmp_path / "tls"
    )
    work_dir = tmp_path / "broker"
    work_dir.mkdir()
    mosquitto = MosquittoBroker(
        work_dir,
        jwt_secret=JWT_SECRET,
        plugin_cache_dir=plugin_path.parent,
        tls=certificates,
    )
    await loop.run_in_executor(None, mosquitto.start)
    try:
        yield mosquitto
    finally:
        await loop.run_in_executor(None, mosquitto.stop)
