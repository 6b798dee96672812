"""Tests of the inverter model and of command validation, without a network."""

from __future__ import annotations

import datetime
import random
from typing import Any

import pytest

from custom_components.predbat_gateway.protocol import predbat_pb2
from simulator.commands import CommandError, apply_command
from simulator.model import (
    GatewayInfo,
    InverterConfig,
    InverterState,
    advance,
    build_status,
    new_inverter_state,
    solar_fraction,
)

# Local wall-clock times, so solar_fraction() returns the same value in any time zone.
NIGHT = datetime.datetime(2026, 6, 21, 2, 0).timestamp()
NOON = datetime.datetime(2026, 6, 21, 12, 30).timestamp()
MINUTE = 60.0


def fresh_state(now: float = NIGHT, **config: Any) -> InverterState:
    return new_inverter_state(
        InverterConfig(**config), now, random.Random(1), estimate_today=False
    )


def run_for(state: InverterState, start: float, minutes: int) -> float:
    """Advance the state minute by minute and return the final time."""
    rng = random.Random(2)
    now = start
    for _ in range(minutes):
        now += MINUTE
        advance([state], [], now, MINUTE, rng)
    return now


def test_daylight_curve() -> None:
    assert solar_fraction(NIGHT) == 0.0
    assert solar_fraction(NOON) > 0.9
    winter_noon = datetime.datetime(2026, 12, 21, 12, 30).timestamp()
    assert 0.3 < solar_fraction(winter_noon) < 0.6


def test_charge_enable_charges_to_target() -> None:
    state = fresh_state(initial_soc=50.0)
    state.control.charge_enabled = True
    state.control.charge_rate_w = 3000
    state.control.target_soc = 60

    run_for(state, NIGHT, 1)
    assert state.battery_w == pytest.approx(3000)
    assert state.soc > 50.0

    run_for(state, NIGHT + MINUTE, 60)
    assert state.soc == pytest.approx(60.0, abs=0.01)
    assert state.battery_w == pytest.approx(0.0, abs=1.0)


def test_discharge_enable_stops_at_reserve() -> None:
    state = fresh_state(initial_soc=30.0)
    state.control.discharge_enabled = True
    state.control.discharge_rate_w = 2500
    state.control.reserve_soc = 25

    run_for(state, NIGHT, 1)
    assert state.battery_w == pytest.approx(-2500)
    assert state.grid_w > 0

    run_for(state, NIGHT + MINUTE, 60)
    assert state.soc == pytest.approx(25.0, abs=0.01)
    assert state.battery_w == pytest.approx(0.0, abs=1.0)


def test_idle_battery_covers_load_at_night() -> None:
    state = fresh_state(initial_soc=80.0)

    run_for(state, NIGHT, 5)

    assert state.pv_w == 0.0
    assert state.battery_w == pytest.approx(-state.load_w)
    assert state.grid_w == pytest.approx(0.0)
    assert state.soc < 80.0


def test_idle_battery_respects_rate_and_reserve() -> None:
    state = fresh_state(initial_soc=4.0, base_load_w=3000.0)

    run_for(state, NIGHT, 5)

    assert state.battery_w == pytest.approx(0.0)
    assert state.grid_w == pytest.approx(-state.load_w)


def test_energy_counters_accumulate_and_reset() -> None:
    state = fresh_state()
    state.control.charge_enabled = True
    end = run_for(state, NIGHT, 30)

    energy = state.energy
    assert energy.battery_charge == pytest.approx(3600 * 0.5, rel=0.01)
    assert energy.grid_import > energy.battery_charge
    assert energy.consumption > 0
    assert energy.pv == 0.0

    next_day = datetime.datetime.fromtimestamp(end) + datetime.timedelta(days=1)
    advance([state], [], next_day.timestamp(), MINUTE, random.Random(3))
    assert state.energy.day == next_day.date()
    assert state.energy.battery_charge < 100


def test_estimated_counters_start_nonzero_at_noon() -> None:
    state = new_inverter_state(InverterConfig(), NOON, random.Random(1))

    assert state.energy.consumption > 1000
    assert state.energy.pv > 1000


def test_status_fills_every_section() -> None:
    state = fresh_state()
    info = GatewayInfo(device_id="pbgw_model01", started_at=NIGHT - 100)

    status = build_status(info, [state], [], NIGHT, random.Random(4))

    assert status.uptime_seconds == 100
    entry = status.inverters[0]
    for section in (
        "battery",
        "pv",
        "grid",
        "load",
        "inverter",
        "control",
        "schedule",
        "energy",
    ):
        assert entry.HasField(section), section
    assert not entry.HasField("ems")
    assert entry.type == predbat_pb2.INVERTER_TYPE_GIVENERGY
    assert predbat_pb2.GatewayStatus.FromString(status.SerializeToString()) == status


@pytest.mark.parametrize(
    ("command", "attribute", "expected"),
    [
        ({"command": "set_charge_rate", "power_w": 9999}, "charge_rate_w", 3600),
        ({"command": "set_discharge_rate", "power_w": 0}, "discharge_rate_w", 0),
        ({"command": "set_reserve", "target_soc": 100}, "reserve_soc", 100),
        ({"command": "set_target_soc", "target_soc": 0}, "target_soc", 0),
        ({"command": "set_charge_enable", "enable": True}, "charge_enabled", True),
        (
            {"command": "set_discharge_enable", "enable": True},
            "discharge_enabled",
            True,
        ),
        ({"command": "set_read_only", "enable": True}, "read_only", True),
        (
            {
                "command": "set_charge_slot",
                "schedule_json": '{"start": 0, "end": 2400}',
            },
            "charge_end",
            2400,
        ),
        (
            {"command": "set_discharge_slot", "schedule_json": '{"start": 1745}'},
            "discharge_start",
            1745,
        ),
    ],
)
def test_command_applied(
    command: dict[str, Any], attribute: str, expected: object
) -> None:
    state = fresh_state()

    apply_command(state, command)

    assert getattr(state.control, attribute) == expected


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ({}, "unknown command None"),
        ({"command": "reboot"}, "unknown command 'reboot'"),
        ({"command": "set_charge_rate"}, "power_w must be an integer"),
        ({"command": "set_charge_rate", "power_w": True}, "power_w must be an integer"),
        ({"command": "set_charge_rate", "power_w": -1}, "at least 0"),
        ({"command": "set_reserve", "target_soc": 101}, "at most 100"),
        ({"command": "set_charge_enable", "enable": 1}, "must be true or false"),
        ({"command": "set_charge_slot", "schedule_json": "{"}, "not valid JSON"),
        ({"command": "set_charge_slot", "schedule_json": "{}"}, '"start" or "end"'),
        ({"command": "set_charge_slot", "schedule_json": '{"end": 2401}'}, "HHMM"),
        ({"command": "set_charge_slot", "schedule_json": '{"end": 960}'}, "HHMM"),
        ({"command": "set_charge_slot", "schedule_json": 5}, "must be a JSON text"),
    ],
)
def test_invalid_command_rejected(command: dict[str, Any], message: str) -> None:
    state = fresh_state()
    before = repr(state.control)

    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        apply_command(state, command)

    assert repr(state.control) == before
