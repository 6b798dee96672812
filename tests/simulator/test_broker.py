"""Tests of the mosquitto broker with the JWT auth plugin."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import os
from pathlib import Path
import ssl
import threading
import time

import jwt
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode
import pytest

from simulator.broker import MosquittoBroker, build_plugin, make_test_certificates

from .conftest import SIM_JWT_SECRET
from .mqtt_raw import DISCONNECT, MQTT_V5, MQTT_V311, RawMqttClient

DEVICE = "pbgw_broker01"
NOT_AUTHORIZED_V5 = 135
NOT_AUTHORIZED_V311 = 5
ADMINISTRATIVE_ACTION = 0x98
SUBACK_NOT_AUTHORIZED = 0x87


def make_token(
    subject: str | None = DEVICE,
    lifetime: float | None = 60,
    secret: str = SIM_JWT_SECRET,
    algorithm: str = "HS256",
) -> str:
    now = time.time()
    claims: dict[str, object] = {"iat": int(now)}
    if subject is not None:
        claims["sub"] = subject
    if lifetime is not None:
        claims["exp"] = int(now + lifetime)
    return jwt.encode(claims, secret, algorithm=algorithm)


def unsigned_token() -> str:
    return jwt.encode(
        {"sub": DEVICE, "exp": int(time.time()) + 60}, None, algorithm="none"
    )


REJECTED_PASSWORDS: dict[str, Callable[[], str]] = {
    "expired": lambda: make_token(lifetime=-5),
    "wrong_signature": lambda: make_token(secret="another-secret-0123456789abcdef!"),
    "wrong_sub": lambda: make_token(subject="pbgw_someone_else"),
    "missing_sub": lambda: make_token(subject=None),
    "missing_exp": lambda: make_token(lifetime=None),
    "alg_none": unsigned_token,
    "not_a_jwt": lambda: "this-is-not-a-jwt",
}


async def count(broker: MosquittoBroker, method: str, username: str) -> int:
    """Read a log counter in a worker thread; the broker's methods block."""
    result: int = await asyncio.to_thread(getattr(broker, method), username)
    return result


def test_build_plugin_reuses_cached_library(tmp_path: Path) -> None:
    first = build_plugin(tmp_path)
    built_at = first.stat().st_mtime_ns

    second = build_plugin(tmp_path)

    assert second == first
    assert second.stat().st_mtime_ns == built_at
    assert [path.name for path in tmp_path.iterdir()] == [first.name]


async def test_valid_token_accepted(mqtt_broker: MosquittoBroker) -> None:
    client = await RawMqttClient.connect(mqtt_broker.port, DEVICE, make_token())
    try:
        assert client.connack_code == 0
        assert await client.ping()
    finally:
        await client.close()

    assert await count(mqtt_broker, "connect_attempts", DEVICE) == 1
    assert await count(mqtt_broker, "auth_refusals", DEVICE) == 0


@pytest.mark.parametrize("case", sorted(REJECTED_PASSWORDS))
@pytest.mark.parametrize(
    ("version", "expected_code"),
    [(MQTT_V5, NOT_AUTHORIZED_V5), (MQTT_V311, NOT_AUTHORIZED_V311)],
    ids=["mqtt5", "mqtt311"],
)
async def test_bad_token_rejected(
    mqtt_broker: MosquittoBroker, case: str, version: int, expected_code: int
) -> None:
    password = REJECTED_PASSWORDS[case]()

    client = await RawMqttClient.connect(
        mqtt_broker.port, DEVICE, password, version=version
    )
    await client.close()

    assert client.connack_code == expected_code
    assert await count(mqtt_broker, "connect_attempts", DEVICE) == 1
    assert await count(mqtt_broker, "auth_refusals", DEVICE) == 1


async def test_missing_password_rejected(mqtt_broker: MosquittoBroker) -> None:
    client = await RawMqttClient.connect(mqtt_broker.port, DEVICE, None)
    await client.close()

    assert client.connack_code == NOT_AUTHORIZED_V5
    assert await count(mqtt_broker, "auth_refusals", DEVICE) == 1


async def test_service_account_password_checked(mqtt_broker: MosquittoBroker) -> None:
    username = mqtt_broker.service_username

    good = await RawMqttClient.connect(
        mqtt_broker.port, username, mqtt_broker.service_password
    )
    await good.close()
    bad = await RawMqttClient.connect(mqtt_broker.port, username, "wrong-password")
    await bad.close()

    assert good.connack_code == 0
    assert bad.connack_code == NOT_AUTHORIZED_V5
    assert await count(mqtt_broker, "auth_refusals", username) == 1


def paho_connack(port: int, password: str, protocol: MQTTProtocolVersion) -> ReasonCode:
    """Connect with paho in its own thread and return the first CONNACK's reason code."""
    received: list[ReasonCode] = []
    done = threading.Event()
    client = Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="paho-connack-check",
        protocol=protocol,
    )
    client.username_pw_set(DEVICE, password)

    def on_connect(*args: object) -> None:
        reason = args[3]
        assert isinstance(reason, ReasonCode)
        received.append(reason)
        done.set()

    client.on_connect = on_connect
    client.connect_async("127.0.0.1", port)
    client.loop_start()
    try:
        assert done.wait(5), "no CONNACK within 5 s"
    finally:
        client.disconnect()
        client.loop_stop()
    return received[0]


@pytest.mark.parametrize(
    "protocol", [MQTTProtocolVersion.MQTTv5, MQTTProtocolVersion.MQTTv311]
)
async def test_paho_sees_not_authorized(
    mqtt_broker: MosquittoBroker, protocol: MQTTProtocolVersion
) -> None:
    # paho reports MQTT 3.1.1 return code 5 as reason code 135 too.
    reason = await asyncio.to_thread(
        paho_connack, mqtt_broker.port, make_token(lifetime=-5), protocol
    )

    assert reason.is_failure
    assert reason.value == NOT_AUTHORIZED_V5


async def test_kick_at_expiry_spares_newer_token(mqtt_broker: MosquittoBroker) -> None:
    short_expiry = int(time.time()) + 2
    short_token = jwt.encode(
        {"sub": DEVICE, "exp": short_expiry}, SIM_JWT_SECRET, algorithm="HS256"
    )
    old = await RawMqttClient.connect(
        mqtt_broker.port, DEVICE, short_token, client_id="old-connection"
    )
    new = await RawMqttClient.connect(
        mqtt_broker.port, DEVICE, make_token(lifetime=60), client_id="new-connection"
    )
    try:
        assert old.connack_code == 0
        assert new.connack_code == 0

        packet_type, _, body = await old.read_packet(timeout=5)
        kicked_at = time.time()

        assert packet_type == DISCONNECT
        assert body[0] == ADMINISTRATIVE_ACTION
        assert kicked_at >= short_expiry
        assert kicked_at < short_expiry + 1.5
        assert await new.ping()
    finally:
        await old.close()
        await new.close()

    assert await count(mqtt_broker, "expiry_kicks", DEVICE) == 1
    assert await count(mqtt_broker, "connect_attempts", DEVICE) == 2


async def test_takeover_with_same_client_id_not_kicked(
    mqtt_broker: MosquittoBroker,
) -> None:
    short_expiry = int(time.time()) + 2
    short_token = jwt.encode(
        {"sub": DEVICE, "exp": short_expiry}, SIM_JWT_SECRET, algorithm="HS256"
    )
    old = await RawMqttClient.connect(
        mqtt_broker.port, DEVICE, short_token, client_id="same-client-id"
    )
    new = await RawMqttClient.connect(
        mqtt_broker.port, DEVICE, make_token(lifetime=60), client_id="same-client-id"
    )
    try:
        # Mosquitto 2.0.11 closes the replaced connection without a DISCONNECT.
        with pytest.raises(EOFError):
            await old.read_packet(timeout=5)

        await asyncio.sleep(max(0.0, short_expiry + 1.2 - time.time()))

        assert await new.ping()
    finally:
        await old.close()
        await new.close()

    assert await count(mqtt_broker, "expiry_kicks", DEVICE) == 0


async def test_device_limited_to_own_topics(mqtt_broker: MosquittoBroker) -> None:
    own_topic = f"predbat/devices/{DEVICE}/status"
    device = await RawMqttClient.connect(mqtt_broker.port, DEVICE, make_token())
    service = await RawMqttClient.connect(
        mqtt_broker.port,
        mqtt_broker.service_username,
        mqtt_broker.service_password,
        client_id="service",
    )
    try:
        assert await device.subscribe(f"predbat/devices/{DEVICE}/#") == 0
        assert await device.subscribe("predbat/devices/pbgw_other/#") == (
            SUBACK_NOT_AUTHORIZED
        )
        assert await device.subscribe("predbat/#") == SUBACK_NOT_AUTHORIZED
        assert await service.subscribe("predbat/#") == 0

        await service.publish("predbat/devices/pbgw_other/status", b"other")
        await service.publish(own_topic, b"own")
        message = await device.next_publish(own_topic)

        assert message.payload == b"own"
    finally:
        await device.close()
        await service.close()


async def test_restart_keeps_port(mqtt_broker: MosquittoBroker) -> None:
    port = mqtt_broker.port
    first_pid = mqtt_broker.pid

    await asyncio.to_thread(mqtt_broker.restart)

    assert mqtt_broker.port == port
    assert mqtt_broker.pid != first_pid
    client = await RawMqttClient.connect(port, DEVICE, make_token())
    await client.close()
    assert client.connack_code == 0


def test_stop_reaps_process(
    socket_enabled: None, tmp_path: Path, simulator_plugin_dir: Path
) -> None:
    broker = MosquittoBroker(
        tmp_path, jwt_secret=SIM_JWT_SECRET, plugin_cache_dir=simulator_plugin_dir
    )
    broker.start()
    pid = broker.pid
    assert pid is not None

    broker.stop()

    assert not broker.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_tls_listener_accepts_token(
    socket_enabled: None, tmp_path: Path, simulator_plugin_dir: Path
) -> None:
    tls = await asyncio.to_thread(make_test_certificates, tmp_path / "tls")
    broker = MosquittoBroker(
        tmp_path / "broker",
        jwt_secret=SIM_JWT_SECRET,
        tls=tls,
        plugin_cache_dir=simulator_plugin_dir,
    )
    await asyncio.to_thread(broker.start)
    try:
        assert broker.tls_port is not None
        context = await asyncio.to_thread(
            ssl.create_default_context, cafile=str(tls.ca_cert)
        )
        client = await RawMqttClient.connect(
            broker.tls_port, DEVICE, make_token(), ssl_context=context
        )
        await client.close()

        assert client.connack_code == 0
    finally:
        await asyncio.to_thread(broker.stop)
