"""Build the JSON commands a controller publishes on the `command` topic."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import itertools
import json
import re

from .errors import CommandError


class CommandName(StrEnum):
    """Commands the gateway firmware accepts."""

    SET_CHARGE_RATE = "set_charge_rate"
    SET_DISCHARGE_RATE = "set_discharge_rate"
    SET_RESERVE = "set_reserve"
    SET_TARGET_SOC = "set_target_soc"
    SET_CHARGE_ENABLE = "set_charge_enable"
    SET_DISCHARGE_ENABLE = "set_discharge_enable"
    SET_CHARGE_SLOT = "set_charge_slot"
    SET_DISCHARGE_SLOT = "set_discharge_slot"
    SET_READ_ONLY = "set_read_only"


# The JSON field that carries each command's value, and the value's type.
_FIELDS: dict[CommandName, tuple[str, type]] = {
    CommandName.SET_CHARGE_RATE: ("power_w", int),
    CommandName.SET_DISCHARGE_RATE: ("power_w", int),
    CommandName.SET_RESERVE: ("target_soc", int),
    CommandName.SET_TARGET_SOC: ("target_soc", int),
    CommandName.SET_CHARGE_ENABLE: ("enable", bool),
    CommandName.SET_DISCHARGE_ENABLE: ("enable", bool),
    CommandName.SET_CHARGE_SLOT: ("schedule_json", str),
    CommandName.SET_DISCHARGE_SLOT: ("schedule_json", str),
    CommandName.SET_READ_ONLY: ("enable", bool),
}

_PERCENT_COMMANDS = {CommandName.SET_RESERVE, CommandName.SET_TARGET_SOC}
_POWER_COMMANDS = {CommandName.SET_CHARGE_RATE, CommandName.SET_DISCHARGE_RATE}

# A power limit above this is a typing error, not an inverter (100 kW).
MAX_POWER_W = 100_000

_SERIAL = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True, slots=True)
class Command:
    """One command for one inverter; `value` is validated by `encode`."""

    name: CommandName
    serial: str
    value: int | bool | str

    def encode(self, command_id: str) -> bytes:
        """Return the JSON payload, raising CommandError on an invalid value."""
        field, value_type = _FIELDS[self.name]
        _validate(self, value_type)
        return json.dumps(
            {
                "command": str(self.name),
                "command_id": command_id,
                "serial": self.serial,
                field: self.value,
            },
            separators=(",", ":"),
        ).encode()


def slot_schedule_json(*, start: int | None = None, end: int | None = None) -> str:
    """Return the `schedule_json` text that moves a slot's start or end (HHMM)."""
    if (start is None) == (end is None):
        raise CommandError("a slot command sets exactly one of start and end")
    key, hhmm = ("start", start) if start is not None else ("end", end)
    assert hhmm is not None
    _validate_hhmm(hhmm)
    return json.dumps({key: hhmm}, separators=(",", ":"))


def _validate_hhmm(hhmm: int) -> None:
    hours, minutes = divmod(hhmm, 100)
    if hhmm == 2400:
        return
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise CommandError(
            f"time {hhmm} is not a valid HHMM value (0000 to 2359, or 2400)"
        )


def _validate(command: Command, value_type: type) -> None:
    if not _SERIAL.fullmatch(command.serial):
        raise CommandError(f"inverter serial {command.serial!r} is not valid")
    # bool is a subclass of int, so check it explicitly.
    if isinstance(command.value, bool) != (value_type is bool) or not isinstance(
        command.value, value_type
    ):
        raise CommandError(
            f"{command.name} takes a {value_type.__name__}, not {command.value!r}"
        )
    if command.name in _PERCENT_COMMANDS and not 0 <= int(command.value) <= 100:
        raise CommandError(
            f"{command.name} takes a percentage from 0 to 100, not {command.value}"
        )
    if command.name in _POWER_COMMANDS and not 0 <= int(command.value) <= MAX_POWER_W:
        raise CommandError(
            f"{command.name} takes a power from 0 to {MAX_POWER_W} W, not {command.value}"
        )


class CommandIds:
    """Command ids unique per controller: a prefix and a counter (`HA17`)."""

    def __init__(self, prefix: str) -> None:
        """Start counting at 1 for this prefix."""
        self._prefix = prefix
        self._counter = itertools.count(1)

    def next_id(self) -> str:
        """Return the next id."""
        return f"{self._prefix}{next(self._counter)}"
