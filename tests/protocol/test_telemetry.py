"""Decoding the gateway's status payloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from custom_components.predbat_gateway.protocol import predbat_pb2 as pb
from custom_components.predbat_gateway.protocol.errors import PayloadError
from custom_components.predbat_gateway.protocol.telemetry import (
    InverterType,
    decode_status,
)

SAMPLES = Path(__file__).parents[1] / "fixtures"


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def test_givenergy_sample_matches_its_json() -> None:
    status = decode_status(_sample("single_givenergy.bin"))
    expected = json.loads((SAMPLES / "single_givenergy.json").read_text())
    inverter = status.inverters[0]
    raw = expected["inverters"][0]

    assert status.device_id == expected["device_id"]
    assert status.firmware == expected["firmware"]
    assert status.timestamp == expected["timestamp"]
    assert status.wifi_rssi_dbm == expected["wifi_rssi_dbm"]
    assert inverter.serial == raw["serial"]
    assert inverter.type is InverterType.GIVENERGY
    assert inverter.model == raw["model"]
    assert inverter.primary is True
    assert inverter.battery is not None
    assert inverter.battery.soc_percent == raw["battery"]["soc_percent"]
    assert inverter.battery.power_w == raw["battery"]["power_w"]
    assert inverter.battery.current_a == pytest.approx(raw["battery"]["current_a"])
    assert inverter.battery.temperature_c == pytest.approx(
        raw["battery"]["temperature_c"]
    )
    assert inverter.battery.rate_max_w == raw["battery"]["rate_max_w"]
    assert inverter.pv_power_w == raw["pv"]["power_w"]
    assert inverter.load_power_w == raw["load"]["power_w"]
    assert inverter.grid is not None
    assert inverter.grid.power_w == raw["grid"]["power_w"]
    assert inverter.grid.voltage_v == pytest.approx(raw["grid"]["voltage_v"])
    assert inverter.inverter is not None
    assert inverter.inverter.rate_max_w == raw["inverter"]["rate_max_w"]
    assert inverter.control is not None
    assert inverter.control.charge_enabled is True
    assert inverter.control.discharge_enabled is False
    assert inverter.control.charge_rate_w == raw["control"]["charge_rate_w"]
    assert inverter.control.export_limit_w == raw["control"]["export_limit_w"]
    assert inverter.schedule is not None
    assert inverter.schedule.charge_start == 130
    assert inverter.energy is not None
    assert inverter.energy.pv_today_wh == raw["energy"]["pv_today_wh"]
    assert inverter.energy.consumption_today_wh == raw["energy"]["consumption_today_wh"]
    assert inverter.ems is None


def test_zeros_sample_reports_missing_sections_as_none() -> None:
    status = decode_status(_sample("zeros.bin"))
    inverter = status.inverters[0]

    assert status.device_id == "pbgw_zero01"
    assert status.wifi_rssi_dbm is None
    assert inverter.serial == "DM0000001"
    assert inverter.type is InverterType.DEMO
    assert inverter.battery is None
    assert inverter.grid is None
    assert inverter.control is None
    assert inverter.energy is None
    assert inverter.pv_power_w is None


def test_zero_means_not_reported() -> None:
    message = pb.GatewayStatus(device_id="pbgw_a")
    entry = message.inverters.add(serial="X1")
    entry.battery.soc_percent = 50
    entry.grid.power_w = 10
    entry.control.export_limit_w = 1

    inverter = decode_status(message.SerializeToString()).inverters[0]

    assert inverter.battery is not None
    assert inverter.battery.soh_percent is None
    assert inverter.battery.rate_max_w is None
    assert inverter.grid is not None
    assert inverter.grid.voltage_v is None
    assert inverter.control is not None
    # 1 on the wire is a limit of zero; 0 would be "not read".
    assert inverter.control.export_limit_w == 0


def test_unknown_inverter_type_and_fields_ignored() -> None:
    message = pb.GatewayStatus(device_id="pbgw_a")
    message.inverters.add(serial="X1", type=pb.INVERTER_TYPE_SOLIS_HYBRID)
    payload = message.SerializeToString()
    # Field 99 (varint 7), as newer firmware might add, then type 42 on an inverter.
    payload += bytes([0x98, 0x06, 0x07])
    newer = pb.GatewayStatus()
    newer.ParseFromString(payload)
    newer.inverters[0].type = 42  # type: ignore[assignment]

    status = decode_status(newer.SerializeToString())

    assert status.inverters[0].type is InverterType.UNKNOWN


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"\xff\xff\xff", id="truncated-varint"),
        pytest.param(b"\x0a\x10abc", id="length-past-end"),
        pytest.param(b"not protobuf at all", id="text"),
    ],
)
def test_malformed_payload_raises(payload: bytes) -> None:
    with pytest.raises(PayloadError):
        decode_status(payload)


def test_inverter_without_serial_raises() -> None:
    message = pb.GatewayStatus(device_id="pbgw_a")
    message.inverters.add(type=pb.INVERTER_TYPE_GIVENERGY)

    with pytest.raises(PayloadError, match="without a serial"):
        decode_status(message.SerializeToString())


def test_empty_payload_has_no_inverters() -> None:
    status = decode_status(b"")

    assert status.inverters == ()
