"""MqttConnection against brokers that misbehave: silent, or refusing a subscription."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from custom_components.predbat_gateway.protocol.errors import ConnectionFailed
from custom_components.predbat_gateway.protocol.mqtt import (
    BrokerSettings,
    MqttConnection,
)
from custom_components.predbat_gateway.protocol.topics import gateway_subscriptions
from simulator.broker import MosquittoBroker
from simulator.token_service import TokenService

from ..conftest import DEVICE_ID


def _connection(
    settings: BrokerSettings, password: str, device_id: str
) -> MqttConnection:
    return MqttConnection(
        settings,
        client_id=f"test-{device_id}",
        username=DEVICE_ID,
        password=password,
        subscriptions=gateway_subscriptions(device_id),
        on_message=lambda _topic, _payload: None,
        on_disconnect=lambda _connection, _err: None,
    )


@pytest.fixture
async def silent_port(loopback_sockets: None) -> AsyncIterator[int]:
    """Listen on loopback, accept connections and never send a byte."""
    open_writers: list[asyncio.StreamWriter] = []

    async def keep_open(
        _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        open_writers.append(writer)

    server = await asyncio.start_server(keep_open, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    for writer in open_writers:
        writer.close()


async def test_silent_broker_times_out_and_closes(silent_port: int) -> None:
    settings = BrokerSettings(host="127.0.0.1", port=silent_port, connect_timeout=0.5)
    connection = _connection(settings, "any-password", DEVICE_ID)

    with pytest.raises(ConnectionFailed, match="no CONNACK or SUBACK") as failure:
        await connection.connect()

    assert not failure.value.auth_refused
    assert not connection.connected


async def test_rejected_subscription_fails_connect(
    broker: MosquittoBroker, token_service: TokenService
) -> None:
    """The broker lets a gateway's user read only its own topics."""
    settings = BrokerSettings(host=broker.host, port=broker.port)
    password = token_service.issue_access_token(DEVICE_ID, 60)
    connection = _connection(settings, password, "pbgw_someone_else")

    with pytest.raises(ConnectionFailed, match="rejected a subscription") as failure:
        await connection.connect()

    assert not failure.value.auth_refused
    assert not connection.connected
