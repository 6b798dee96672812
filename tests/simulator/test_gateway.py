"""Tests of the gateway simulator over a real broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json
from pathlib import Path
import time
from typing import Any

import pytest

from custom_components.predbat_gateway.protocol import predbat_pb2
from simulator.broker import MosquittoBroker, make_test_certificates
from simulator.gateway import GatewaySimulator
from simulator.model import InverterConfig
from simulator.token_service import TokenService

from .conftest import SIM_DEVICE_ID, SIM_JWT_SECRET
from .mqtt_raw import RawMqttClient

SERIAL = "SIM0000001"
TOPIC_ROOT = f"predbat/devices/{SIM_DEVICE_ID}"


@pytest.fixture
async def observer(mqtt_broker: MosquittoBroker) -> AsyncIterator[RawMqttClient]:
    """Connect a service-account client subscribed to every gateway topic."""
    client = await RawMqttClient.connect(
        mqtt_broker.port,
        mqtt_broker.service_username,
        mqtt_broker.service_password,
        client_id="observer",
    )
    assert await client.subscribe(f"{TOPIC_ROOT}/#") == 0
    yield client
    await client.close()


@pytest.fixture
async def controller(mqtt_broker: MosquittoBroker) -> AsyncIterator[RawMqttClient]:
    """Connect as the device with a token, the way the integration does."""
    token = TokenService(SIM_JWT_SECRET).issue_access_token(SIM_DEVICE_ID)
    client = await RawMqttClient.connect(
        mqtt_broker.port, SIM_DEVICE_ID, token, client_id="controller"
    )
    assert client.connack_code == 0
    yield client
    await client.close()


async def next_status(client: RawMqttClient) -> predbat_pb2.GatewayStatus:
    message = await client.next_publish(f"{TOPIC_ROOT}/status")
    return predbat_pb2.GatewayStatus.FromString(message.payload)


async def send_command(client: RawMqttClient, **fields: Any) -> None:
    command = {"command_id": f"T{time.monotonic_ns()}", "serial": SERIAL, **fields}
    await client.publish(f"{TOPIC_ROOT}/command", json.dumps(command).encode())


async def test_status_is_decodable_and_complete(
    gateway_sim: GatewaySimulator, observer: RawMqttClient
) -> None:
    online = await observer.next_publish(f"{TOPIC_ROOT}/online")
    status = await next_status(observer)

    assert online.payload == b"1"
    assert online.retain
    assert status.device_id == SIM_DEVICE_ID
    assert status.schema_version == 1
    assert abs(status.timestamp - time.time()) < 5
    assert status.firmware
    assert status.wifi_rssi_dbm < 0
    assert status.free_heap_bytes > 0
    assert status.dongle_count == 1
    assert status.HasField("ev_control")
    assert len(status.inverters) == 1
    inverter = status.inverters[0]
    assert inverter.serial == SERIAL
    assert inverter.type == predbat_pb2.INVERTER_TYPE_GIVENERGY
    assert inverter.primary
    assert inverter.connected
    assert inverter.managed
    assert inverter.battery.capacity_wh == 9500
    assert inverter.battery.rate_max_w == 3600
    assert 0 < inverter.battery.soc_percent <= 100
    assert inverter.battery.voltage_v > 40
    assert inverter.grid.voltage_v > 200
    assert inverter.grid.frequency_hz > 49
    assert inverter.inverter.rate_max_w == 5000
    assert inverter.control.charge_rate_w == 3600
    assert inverter.control.export_limit_w == 3680
    assert inverter.schedule.charge_end > inverter.schedule.charge_start
    assert inverter.load.power_w > 0
    balance = inverter.pv.power_w - inverter.battery.power_w - inverter.load.power_w
    assert abs(inverter.grid.power_w - balance) <= 2


async def test_status_repeats_at_interval(
    gateway_sim: GatewaySimulator, observer: RawMqttClient
) -> None:
    first = await next_status(observer)
    second = await next_status(observer)
    third = await next_status(observer)

    assert first.uptime_seconds <= second.uptime_seconds <= third.uptime_seconds
    assert gateway_sim.published_statuses >= 3


async def test_commands_show_in_next_status(
    gateway_sim: GatewaySimulator,
    controller: RawMqttClient,
    observer: RawMqttClient,
) -> None:
    cases: list[tuple[dict[str, Any], str, str, object]] = [
        (
            {"command": "set_charge_rate", "power_w": 2000},
            "control",
            "charge_rate_w",
            2000,
        ),
        (
            {"command": "set_discharge_rate", "power_w": 1500},
            "control",
            "discharge_rate_w",
            1500,
        ),
        ({"command": "set_reserve", "target_soc": 20}, "control", "reserve_soc", 20),
        ({"command": "set_target_soc", "target_soc": 80}, "control", "target_soc", 80),
        (
            {"command": "set_charge_enable", "enable": True},
            "control",
            "charge_enabled",
            True,
        ),
        (
            {"command": "set_discharge_enable", "enable": True},
            "control",
            "discharge_enabled",
            True,
        ),
        (
            {"command": "set_charge_slot", "schedule_json": '{"start": 130}'},
            "schedule",
            "charge_start",
            130,
        ),
        (
            {"command": "set_discharge_slot", "schedule_json": '{"end": 2400}'},
            "schedule",
            "discharge_end",
            2400,
        ),
    ]
    for command, message, field, expected in cases:
        start = len(gateway_sim.received_commands)
        await send_command(controller, **command)
        received = await gateway_sim.wait_for_command(
            lambda item, name=command["command"]: item["command"] == name,
            start=start,
        )
        assert received["serial"] == SERIAL

        # A status published before the command arrived may still be on its
        # way, so the value must show within the next few statuses.
        seen: list[object] = []
        for _ in range(3):
            status = await next_status(observer)
            seen.append(getattr(getattr(status.inverters[0], message), field))
            if seen[-1] == expected:
                break
        assert seen[-1] == expected, (command, seen)

    assert gateway_sim.ignored_commands == []


async def test_read_only_blocks_later_commands(
    gateway_sim: GatewaySimulator, controller: RawMqttClient
) -> None:
    await send_command(controller, command="set_read_only", enable=True)
    await send_command(controller, command="set_charge_rate", power_w=100)
    await gateway_sim.wait_for_command(
        lambda item: item["command"] == "set_charge_rate"
    )

    status = gateway_sim.publish_status_now()

    assert not status.inverters[0].managed
    assert status.inverters[0].control.charge_rate_w == 3600
    assert len(gateway_sim.ignored_commands) == 1


async def test_bad_commands_ignored(
    gateway_sim: GatewaySimulator, controller: RawMqttClient
) -> None:
    command_topic = f"{TOPIC_ROOT}/command"
    await controller.publish(command_topic, b"{not json")
    await controller.publish(command_topic, b"[1, 2]")
    await send_command(controller, command="self_destruct")
    await send_command(controller, command="set_reserve", serial="NOPE", target_soc=5)
    await send_command(controller, command="set_reserve", target_soc=150)
    await send_command(controller, command="set_charge_rate", power_w="fast")
    await send_command(
        controller, command="set_charge_slot", schedule_json='{"start": 1275}'
    )
    await send_command(controller, command="set_charge_enable", enable=True)
    await gateway_sim.wait_for_command(
        lambda item: item["command"] == "set_charge_enable"
    )

    control = gateway_sim.inverter(SERIAL).control
    assert control.charge_enabled
    assert control.reserve_soc == 4
    assert control.charge_rate_w == 3600
    assert control.charge_start == 30
    assert len(gateway_sim.ignored_commands) == 7
    assert len(gateway_sim.received_commands) == 6


async def test_wait_for_command_times_out(gateway_sim: GatewaySimulator) -> None:
    with pytest.raises(TimeoutError, match="No matching command"):
        await gateway_sim.wait_for_command(timeout=0.2)


async def test_raw_status_payloads_pass_through(
    gateway_sim: GatewaySimulator, observer: RawMqttClient
) -> None:
    gateway_sim.paused = True
    for payload in (b"", b"\xff\x00not protobuf"):
        gateway_sim.publish_raw_status(payload)
        message = await observer.next_publish(f"{TOPIC_ROOT}/status")
        while message.payload != payload:
            message = await observer.next_publish(f"{TOPIC_ROOT}/status")
        assert message.payload == payload


async def test_other_controller_topics_recorded(
    gateway_sim: GatewaySimulator, controller: RawMqttClient
) -> None:
    plan = predbat_pb2.ExecutionPlan(
        plan_version=3, timezone="GMT0BST,M3.5.0/1,M10.5.0"
    )
    await controller.publish(f"{TOPIC_ROOT}/schedule", plan.SerializeToString())
    await controller.publish(f"{TOPIC_ROOT}/predbat_data", b'{"soc": 50}')
    await send_command(controller, command="set_reserve", target_soc=10)
    await gateway_sim.wait_for_command()

    suffixes = [suffix for suffix, _ in gateway_sim.received_messages]
    assert suffixes == ["schedule", "predbat_data"]
    received_plan = predbat_pb2.ExecutionPlan.FromString(
        gateway_sim.received_messages[0][1]
    )
    assert received_plan.plan_version == 3


async def test_online_flag_follows_lifecycle(
    mqtt_broker: MosquittoBroker, observer: RawMqttClient
) -> None:
    online_topic = f"{TOPIC_ROOT}/online"
    simulator = GatewaySimulator.for_broker(
        mqtt_broker, device_id=SIM_DEVICE_ID, interval=5
    )
    await simulator.start()
    try:
        assert (await observer.next_publish(online_topic)).payload == b"1"

        simulator.set_online(False)
        assert (await observer.next_publish(online_topic)).payload == b"0"

        await simulator.drop_connection()
        will = await observer.next_publish(online_topic)
        assert will.payload == b"0"
        assert not simulator.connected

        await simulator.start()
        assert (await observer.next_publish(online_topic)).payload == b"1"
    finally:
        await simulator.stop()

    assert (await observer.next_publish(online_topic)).payload == b"0"


async def test_reconnects_after_broker_restart(
    mqtt_broker: MosquittoBroker, gateway_sim: GatewaySimulator
) -> None:
    await asyncio.to_thread(mqtt_broker.restart)

    async with asyncio.timeout(10):
        while not gateway_sim.connected:
            await asyncio.sleep(0.05)
    observer = await RawMqttClient.connect(
        mqtt_broker.port,
        mqtt_broker.service_username,
        mqtt_broker.service_password,
        client_id="late-observer",
    )
    try:
        assert await observer.subscribe(f"{TOPIC_ROOT}/#") == 0
        online = await observer.next_publish(f"{TOPIC_ROOT}/online")
        status = await next_status(observer)
    finally:
        await observer.close()

    assert online.payload == b"1"
    assert status.device_id == SIM_DEVICE_ID


async def test_connects_over_tls(
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
        simulator = GatewaySimulator.for_broker(broker, use_tls=True, interval=5)
        await simulator.start()
        try:
            assert simulator.connected
            assert simulator.published_statuses == 1
        finally:
            await simulator.stop()
    finally:
        await asyncio.to_thread(broker.stop)


async def test_wrong_service_password_fails_start(mqtt_broker: MosquittoBroker) -> None:
    simulator = GatewaySimulator(
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        username=mqtt_broker.service_username,
        password="wrong-password",
    )

    with pytest.raises(ConnectionRefusedError, match="rejected the service account"):
        await simulator.start()

    assert not simulator.connected


async def test_multiple_inverters_with_ems(mqtt_broker: MosquittoBroker) -> None:
    inverters = [
        InverterConfig(
            serial="EMS0000001",
            inverter_type=predbat_pb2.INVERTER_TYPE_GIVENERGY_EMS,
            model="EMS",
            primary=False,
        ),
        InverterConfig(serial="SIM0000001", primary=False),
        InverterConfig(serial="SIM0000002", primary=False, battery_capacity_wh=5200),
    ]
    simulator = GatewaySimulator.for_broker(
        mqtt_broker, inverters=inverters, interval=5, seed=3
    )
    await simulator.start()
    try:
        status = simulator.publish_status_now()
    finally:
        await simulator.stop()

    assert [entry.serial for entry in status.inverters] == [
        "EMS0000001",
        "SIM0000001",
        "SIM0000002",
    ]
    assert not any(entry.primary for entry in status.inverters)
    assert status.dongle_count == 2
    ems = status.inverters[0].ems
    assert ems.num_inverters == 2
    assert len(ems.sub_inverters) == 2
    member_pv = sum(entry.pv.power_w for entry in status.inverters[1:])
    assert abs(ems.total_pv_w - member_pv) <= 1
    assert status.inverters[0].battery.capacity_wh == 9500 + 5200
