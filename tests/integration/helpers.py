"""Shared helpers of the end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from pathlib import Path

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    callback,
)
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event

from custom_components.predbat_gateway.const import DOMAIN
from simulator.broker import MosquittoBroker, make_test_certificates

from ..conftest import DEVICE_ID, JWT_SECRET

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


def track_unavailable(
    hass: HomeAssistant, entry: ConfigEntry
) -> tuple[list[str], CALLBACK_TYPE]:
    """Record each entity of `entry` that becomes unavailable.

    Returns the list of entity ids, one per change to unavailable, and the
    function that stops the recording.
    """
    entity_ids = [
        registered.entity_id
        for registered in er.async_entries_for_config_entry(
            er.async_get(hass), entry.entry_id
        )
    ]
    assert entity_ids, "the entry has no entities"
    unavailable: list[str] = []

    @callback
    def record(event: Event[EventStateChangedData]) -> None:
        new_state = event.data["new_state"]
        if new_state is not None and new_state.state == STATE_UNAVAILABLE:
            unavailable.append(new_state.entity_id)

    return unavailable, async_track_state_change_event(hass, entity_ids, record)


async def broker_counts(
    hass: HomeAssistant, broker: MosquittoBroker
) -> tuple[int, int, int]:
    """Return (CONNECT attempts, auth refusals, expiry kicks) of the test gateway's user.

    Reading the broker's log blocks, so it runs in the executor.
    """

    def read() -> tuple[int, int, int]:
        return (
            broker.connect_attempts(DEVICE_ID),
            broker.auth_refusals(DEVICE_ID),
            broker.expiry_kicks(DEVICE_ID),
        )

    return await hass.async_add_executor_job(read)


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
