"""Fixtures: a real mosquitto broker, token service and gateway simulator on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
import logging
from pathlib import Path
import secrets
from typing import Any

from homeassistant import block_async_io
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.predbat_gateway.const import (
    CONF_DEVICE_ID,
    CONF_REFRESH_TOKEN,
    CONF_TOKEN_URL,
    CONF_USE_TLS,
    CONF_VERIFY_CERTIFICATE,
    DOMAIN,
)
from simulator.broker import MosquittoBroker, build_plugin
from simulator.gateway import GatewaySimulator
from simulator.token_service import TokenService

DEVICE_ID = "pbgw_test01"
JWT_SECRET = secrets.token_urlsafe(32)


@pytest.fixture(scope="session", autouse=True)
def blocking_call_detection() -> Iterator[None]:
    """Detect blocking calls in the event loop, as Home Assistant does at run time.

    Enabled once tests start, so pytest's own start-up is not checked.
    """
    block_async_io.enable()
    yield
    for blocking_call in block_async_io._BLOCKED_CALLS.calls:
        setattr(
            blocking_call.object, blocking_call.function, blocking_call.original_func
        )
    block_async_io._BLOCKED_CALLS.calls.clear()


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components."""


@pytest.fixture(autouse=True)
def fail_on_blocking_call(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail a test whose code made a blocking call in the event loop."""
    yield
    blocking = [
        record.getMessage()
        for record in caplog.records
        if "Detected blocking call" in record.getMessage()
    ]
    assert not blocking, blocking


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the broker's token-checking plugin once per run."""
    return build_plugin(tmp_path_factory.mktemp("plugin"))


@pytest.fixture
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still lets them connect to 127.0.0.1 only."""


@pytest.fixture
async def broker(
    tmp_path: Path, plugin_path: Path, loopback_sockets: None
) -> AsyncIterator[MosquittoBroker]:
    """Start a mosquitto that accepts only currently valid tokens.

    Starting and stopping wait on the process, so they run in the executor.
    """
    work_dir = tmp_path / "broker"
    work_dir.mkdir()
    mosquitto = MosquittoBroker(
        work_dir, jwt_secret=JWT_SECRET, plugin_cache_dir=plugin_path.parent
    )
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, mosquitto.start)
    yield mosquitto
    await loop.run_in_executor(None, mosquitto.stop)


@pytest.fixture
def token_lifetime() -> float:
    """Lifetime of the access tokens the token service issues, in seconds."""
    return 3600.0


@pytest.fixture
async def token_service(
    token_lifetime: float, loopback_sockets: None
) -> AsyncIterator[TokenService]:
    """Start the token service in the test's event loop."""
    service = TokenService(JWT_SECRET, lifetime=token_lifetime)
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
async def gateway(broker: MosquittoBroker) -> AsyncIterator[GatewaySimulator]:
    """Start a simulated gateway with one GivEnergy inverter."""
    simulator = GatewaySimulator(
        host=broker.host,
        port=broker.port,
        username=broker.service_username,
        password=broker.service_password,
        device_id=DEVICE_ID,
        interval=0.2,
    )
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
def entry_data(broker: MosquittoBroker, token_service: TokenService) -> dict[str, Any]:
    """Return config entry data that points at the loopback simulator."""
    return {
        CONF_DEVICE_ID: DEVICE_ID,
        CONF_HOST: broker.host,
        CONF_PORT: broker.port,
        CONF_USE_TLS: False,
        CONF_VERIFY_CERTIFICATE: True,
        CONF_TOKEN_URL: token_service.url,
        CONF_REFRESH_TOKEN: token_service.add_credential(DEVICE_ID),
    }


@pytest.fixture
def config_entry(hass: HomeAssistant, entry_data: dict[str, Any]) -> MockConfigEntry:
    """Add a config entry for the simulated gateway (not yet set up)."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=DEVICE_ID,
        title=f"Predbat gateway {DEVICE_ID}",
        data=entry_data,
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def loaded_entry(
    hass: HomeAssistant, config_entry: MockConfigEntry, gateway: GatewaySimulator
) -> AsyncIterator[MockConfigEntry]:
    """Set up the integration against the simulator and unload it afterwards."""
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    yield config_entry
    if config_entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(config_entry.entry_id)
        await hass.async_block_till_done()


def assert_no_secret_logged(
    caplog: pytest.LogCaptureFixture, secrets_: list[str]
) -> None:
    """Fail when any captured log line contains one of the secrets."""
    for record in caplog.records:
        # The test harness's mock storage logs what it would write to disk.
        if record.name.startswith("pytest_homeassistant_custom_component"):
            continue
        text = record.getMessage()
        for secret in secrets_:
            assert secret not in text, (
                f"secret leaked in a {logging.getLevelName(record.levelno)} line"
            )
