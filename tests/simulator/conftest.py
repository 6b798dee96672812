"""Fixtures for the simulator's own tests: each test gets fresh services on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
import secrets

import pytest

from simulator.broker import MosquittoBroker, build_plugin
from simulator.gateway import GatewaySimulator
from simulator.token_service import TokenService

SIM_JWT_SECRET = secrets.token_urlsafe(32)
SIM_DEVICE_ID = "pbgw_sim001"


@pytest.fixture(scope="session")
def simulator_plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the auth plugin once per run into a temporary cache folder."""
    directory = tmp_path_factory.mktemp("simulator_plugin")
    build_plugin(directory)
    return directory


@pytest.fixture
def mqtt_broker(
    socket_enabled: None, tmp_path: Path, simulator_plugin_dir: Path
) -> Iterator[MosquittoBroker]:
    """Start mosquitto with the auth plugin on a free port."""
    broker = MosquittoBroker(
        tmp_path / "broker",
        jwt_secret=SIM_JWT_SECRET,
        plugin_cache_dir=simulator_plugin_dir,
    )
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
async def token_server(socket_enabled: None) -> AsyncIterator[TokenService]:
    """Start an OAuth-style token service that signs with the broker's secret."""
    service = TokenService(SIM_JWT_SECRET)
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
async def gateway_sim(mqtt_broker: MosquittoBroker) -> AsyncIterator[GatewaySimulator]:
    """Start a gateway simulator with the default inverter, publishing every 0.2 s."""
    simulator = GatewaySimulator.for_broker(
        mqtt_broker, device_id=SIM_DEVICE_ID, interval=0.2, seed=7
    )
    await simulator.start()
    yield simulator
    await simulator.stop()
