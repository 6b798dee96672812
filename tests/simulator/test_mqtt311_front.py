"""Tests of the front that makes mosquitto look like an MQTT 3.1.1-only broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from simulator.broker import MosquittoBroker
from simulator.mqtt311_front import Mqtt311Front

from .mqtt_raw import MQTT_V5, MQTT_V311, RawMqttClient
from .test_broker import DEVICE, NOT_AUTHORIZED_V311, count, make_token

UNACCEPTABLE_PROTOCOL_V311 = 1


@pytest.fixture
async def front(mqtt_broker: MosquittoBroker) -> AsyncIterator[Mqtt311Front]:
    proxy = Mqtt311Front(mqtt_broker.host, mqtt_broker.port)
    await proxy.start()
    yield proxy
    await proxy.stop()


async def test_mqtt5_gets_return_code_1(
    front: Mqtt311Front, mqtt_broker: MosquittoBroker
) -> None:
    client = await RawMqttClient.connect(
        front.port, DEVICE, make_token(), version=MQTT_V5
    )
    try:
        assert client.connack_code == UNACCEPTABLE_PROTOCOL_V311
        with pytest.raises(EOFError):
            await client.read_packet(timeout=2)
    finally:
        await client.close()

    assert front.rejected_v5 == 1
    assert front.passed == 0
    assert await count(mqtt_broker, "connect_attempts", DEVICE) == 0


async def test_mqtt311_reaches_the_broker(
    front: Mqtt311Front, mqtt_broker: MosquittoBroker
) -> None:
    subscriber = await RawMqttClient.connect(
        front.port, DEVICE, make_token(), version=MQTT_V311, client_id="sub"
    )
    publisher = await RawMqttClient.connect(
        front.port, DEVICE, make_token(), version=MQTT_V311, client_id="pub"
    )
    try:
        assert subscriber.connack_code == 0
        topic = f"predbat/devices/{DEVICE}/status"
        await subscriber.subscribe(topic)
        await publisher.publish(topic, b"through the front")

        message = await subscriber.next_publish(topic)
    finally:
        await subscriber.close()
        await publisher.close()

    assert message.payload == b"through the front"
    assert front.passed == 2
    assert await count(mqtt_broker, "connect_attempts", DEVICE) == 2


async def test_broker_refusal_passes_through(front: Mqtt311Front) -> None:
    client = await RawMqttClient.connect(
        front.port, DEVICE, make_token(lifetime=-5), version=MQTT_V311
    )
    await client.close()

    assert client.connack_code == NOT_AUTHORIZED_V311


async def test_garbage_closes_only_that_client(front: Mqtt311Front) -> None:
    reader, writer = await asyncio.open_connection(front.host, front.port)
    writer.write(b"GET / HTTP/1.1\r\n\r\n")
    await writer.drain()
    async with asyncio.timeout(5):
        assert await reader.read() == b""
    writer.close()

    client = await RawMqttClient.connect(
        front.port, DEVICE, make_token(), version=MQTT_V311
    )
    await client.close()
    assert client.connack_code == 0
