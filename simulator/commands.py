"""Validation and application of the JSON commands a controller sends to the gateway."""

from __future__ import annotations

from collections.abc import Callable
import json
from typing import Any

from .model import InverterState


class CommandError(ValueError):
    """Raised when a command is unknown, malformed or cannot be applied."""


def apply_command(state: InverterState, command: dict[str, Any]) -> None:
    """Apply one decoded command to the inverter it targets.

    Rates above the battery's ``rate_max_w`` are clamped to it, as an
    inverter does. While the inverter is read-only, every command except
    ``set_read_only`` raises CommandError and changes nothing.
    """
    name = command.get("command")
    handler = _HANDLERS.get(name) if isinstance(name, str) else None
    if handler is None:
        raise CommandError(f"unknown command {name!r}")
    if state.control.read_only and name != "set_read_only":
        raise CommandError("inverter is read-only, so the gateway writes nothing")
    handler(state, command)


def _set_charge_rate(state: InverterState, command: dict[str, Any]) -> None:
    power = _int_field(command, "power_w", 0, None)
    state.control.charge_rate_w = min(power, state.config.battery_rate_max_w)


def _set_discharge_rate(state: InverterState, command: dict[str, Any]) -> None:
    power = _int_field(command, "power_w", 0, None)
    state.control.discharge_rate_w = min(power, state.config.battery_rate_max_w)


def _set_reserve(state: InverterState, command: dict[str, Any]) -> None:
    state.control.reserve_soc = _int_field(command, "target_soc", 0, 100)


def _set_target_soc(state: InverterState, command: dict[str, Any]) -> None:
    state.control.target_soc = _int_field(command, "target_soc", 0, 100)


def _set_charge_enable(state: InverterState, command: dict[str, Any]) -> None:
    state.control.charge_enabled = _bool_field(command, "enable")


def _set_discharge_enable(state: InverterState, command: dict[str, Any]) -> None:
    state.control.discharge_enabled = _bool_field(command, "enable")


def _set_read_only(state: InverterState, command: dict[str, Any]) -> None:
    state.control.read_only = _bool_field(command, "enable")


def _set_charge_slot(state: InverterState, command: dict[str, Any]) -> None:
    start, end = _slot_times(command)
    if start is not None:
        state.control.charge_start = start
    if end is not None:
        state.control.charge_end = end


def _set_discharge_slot(state: InverterState, command: dict[str, Any]) -> None:
    start, end = _slot_times(command)
    if start is not None:
        state.control.discharge_start = start
    if end is not None:
        state.control.discharge_end = end


def _int_field(
    command: dict[str, Any], key: str, minimum: int, maximum: int | None
) -> int:
    value = command.get(key)
    # bool is a subclass of int, but JSON true is not a number.
    if not isinstance(value, int) or isinstance(value, bool):
        raise CommandError(f"{key} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise CommandError(f"{key} must be at least {minimum}{upper}, got {value}")
    return value


def _bool_field(command: dict[str, Any], key: str) -> bool:
    value = command.get(key)
    if not isinstance(value, bool):
        raise CommandError(f"{key} must be true or false, got {value!r}")
    return value


def _slot_times(command: dict[str, Any]) -> tuple[int | None, int | None]:
    """Read ``{"start": HHMM}`` and/or ``{"end": HHMM}`` from the schedule_json text."""
    text = command.get("schedule_json")
    if not isinstance(text, str):
        raise CommandError(f"schedule_json must be a JSON text, got {text!r}")
    try:
        slot = json.loads(text)
    except json.JSONDecodeError as err:
        raise CommandError(
            f"schedule_json is not valid JSON ({err}): {text!r}"
        ) from None
    if not isinstance(slot, dict) or not ({"start", "end"} & slot.keys()):
        raise CommandError(f'schedule_json must hold "start" or "end", got {text!r}')
    start = _hhmm(slot, "start") if "start" in slot else None
    end = _hhmm(slot, "end") if "end" in slot else None
    return start, end


def _hhmm(slot: dict[str, Any], key: str) -> int:
    value = slot[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise CommandError(f"{key} must be an HHMM integer, got {value!r}")
    hours, minutes = divmod(value, 100)
    if value < 0 or minutes >= 60 or hours > 24 or (hours == 24 and minutes != 0):
        raise CommandError(
            f"{key} must be a time from 0000 to 2400 in HHMM form, got {value}"
        )
    return value


_HANDLERS: dict[str, Callable[[InverterState, dict[str, Any]], None]] = {
    "set_charge_rate": _set_charge_rate,
    "set_discharge_rate": _set_discharge_rate,
    "set_reserve": _set_reserve,
    "set_target_soc": _set_target_soc,
    "set_charge_enable": _set_charge_enable,
    "set_discharge_enable": _set_discharge_enable,
    "set_charge_slot": _set_charge_slot,
    "set_discharge_slot": _set_discharge_slot,
    "set_read_only": _set_read_only,
}
