"""Encoding the JSON commands."""

from __future__ import annotations

import json

import pytest

from custom_components.predbat_gateway.protocol.commands import (
    Command,
    CommandIds,
    CommandName,
    slot_schedule_json,
)
from custom_components.predbat_gateway.protocol.errors import CommandError


def test_charge_rate_payload() -> None:
    payload = Command(CommandName.SET_CHARGE_RATE, "CE2330G499", 2500).encode("HA17")

    assert json.loads(payload) == {
        "command": "set_charge_rate",
        "command_id": "HA17",
        "serial": "CE2330G499",
        "power_w": 2500,
    }


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        (CommandName.SET_DISCHARGE_RATE, 3000, "power_w"),
        (CommandName.SET_RESERVE, 10, "target_soc"),
        (CommandName.SET_TARGET_SOC, 100, "target_soc"),
        (CommandName.SET_CHARGE_ENABLE, True, "enable"),
        (CommandName.SET_DISCHARGE_ENABLE, False, "enable"),
        (CommandName.SET_READ_ONLY, True, "enable"),
        (CommandName.SET_CHARGE_SLOT, '{"start":130}', "schedule_json"),
    ],
)
def test_command_field_per_name(
    name: CommandName, value: int | bool | str, field: str
) -> None:
    body = json.loads(Command(name, "S1", value).encode("HA1"))

    assert body["command"] == str(name)
    assert body[field] == value
    assert type(body[field]) is type(value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (CommandName.SET_RESERVE, 101),
        (CommandName.SET_TARGET_SOC, -1),
        (CommandName.SET_CHARGE_RATE, -5),
        (CommandName.SET_CHARGE_RATE, 100_001),
        (CommandName.SET_CHARGE_RATE, True),
        (CommandName.SET_CHARGE_ENABLE, 1),
        (CommandName.SET_CHARGE_SLOT, 130),
    ],
)
def test_invalid_value_rejected(name: CommandName, value: int | bool | str) -> None:
    with pytest.raises(CommandError):
        Command(name, "S1", value).encode("HA1")


@pytest.mark.parametrize("serial", ["", "has space", "a/b", "x" * 33, 'quote"'])
def test_invalid_serial_rejected(serial: str) -> None:
    with pytest.raises(CommandError, match="serial"):
        Command(CommandName.SET_CHARGE_RATE, serial, 100).encode("HA1")


def test_slot_schedule_json() -> None:
    assert json.loads(slot_schedule_json(start=130)) == {"start": 130}
    assert json.loads(slot_schedule_json(end=2400)) == {"end": 2400}


@pytest.mark.parametrize("hhmm", [2360, 2401, 60, -1, 9999])
def test_slot_time_out_of_range(hhmm: int) -> None:
    with pytest.raises(CommandError, match="HHMM"):
        slot_schedule_json(start=hhmm)


def test_slot_needs_exactly_one_end() -> None:
    with pytest.raises(CommandError):
        slot_schedule_json()
    with pytest.raises(CommandError):
        slot_schedule_json(start=100, end=200)


def test_command_ids_unique() -> None:
    ids = CommandIds("HAab12-")

    assert [ids.next_id() for _ in range(3)] == ["HAab12-1", "HAab12-2", "HAab12-3"]
