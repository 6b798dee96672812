"""Start and end times of each inverter's charge and discharge slots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import time
from typing import TYPE_CHECKING, Literal

from homeassistant.components.time import TimeEntity, TimeEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import (
    PredbatInverterEntity,
    PredbatInverterEntityDescription,
    async_add_inverter_entities,
)
from .protocol.commands import CommandName, slot_schedule_json
from .protocol.telemetry import InverterStatus

if TYPE_CHECKING:
    from . import PredbatGatewayConfigEntry

PARALLEL_UPDATES = 1


def hhmm_to_time(hhmm: int) -> time | None:
    """Convert the firmware's HHMM form to a time of day.

    2400 (midnight at the end of the day) becomes 00:00, because a time of
    day cannot be 24:00. A value that is not a valid HHMM returns None, which
    leaves the entity unavailable.
    """
    if hhmm == 2400:
        return time(0, 0)
    hours, minutes = divmod(hhmm, 100)
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        return None
    return time(hours, minutes)


def time_to_hhmm(value: time) -> int:
    """Convert a time of day to HHMM, dropping the seconds.

    00:00 is sent as 0000, never 2400, even for a slot end. Both are the same
    moment of the day, but with 2400 a user who sets both ends of a slot to
    00:00 would get a slot of the whole day.
    """
    return value.hour * 100 + value.minute


@dataclass(frozen=True, kw_only=True)
class PredbatTimeEntityDescription(
    TimeEntityDescription, PredbatInverterEntityDescription
):
    """Description of one end of a slot and the command that moves it."""

    command: CommandName
    slot_field: Literal["start", "end"]
    value_fn: Callable[[InverterStatus], time | None]


TIMES: tuple[PredbatTimeEntityDescription, ...] = (
    PredbatTimeEntityDescription(
        key="charge_slot_start",
        translation_key="charge_slot_start",
        command=CommandName.SET_CHARGE_SLOT,
        slot_field="start",
        entity_category=EntityCategory.CONFIG,
        value_fn=lambda inverter: (
            hhmm_to_time(inverter.schedule.charge_start) if inverter.schedule else None
        ),
    ),
    PredbatTimeEntityDescription(
        key="charge_slot_end",
        translation_key="charge_slot_end",
        command=CommandName.SET_CHARGE_SLOT,
        slot_field="end",
        entity_category=EntityCategory.CONFIG,
        value_fn=lambda inverter: (
            hhmm_to_time(inverter.schedule.charge_end) if inverter.schedule else None
        ),
    ),
    PredbatTimeEntityDescription(
        key="discharge_slot_start",
        translation_key="discharge_slot_start",
        command=CommandName.SET_DISCHARGE_SLOT,
        slot_field="start",
        entity_category=EntityCategory.CONFIG,
        value_fn=lambda inverter: (
            hhmm_to_time(inverter.schedule.discharge_start)
            if inverter.schedule
            else None
        ),
    ),
    PredbatTimeEntityDescription(
        key="discharge_slot_end",
        translation_key="discharge_slot_end",
        command=CommandName.SET_DISCHARGE_SLOT,
        slot_field="end",
        entity_category=EntityCategory.CONFIG,
        value_fn=lambda inverter: (
            hhmm_to_time(inverter.schedule.discharge_end) if inverter.schedule else None
        ),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PredbatGatewayConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each inverter's slot times once its schedule section arrives."""
    async_add_inverter_entities(entry, async_add_entities, TIMES, PredbatSlotTime)


class PredbatSlotTime(PredbatInverterEntity[PredbatTimeEntityDescription], TimeEntity):
    """The start or the end of one inverter's charge or discharge slot."""

    entity_description: PredbatTimeEntityDescription

    @property
    def native_value(self) -> time | None:
        """Return the time the inverter reported last."""
        inverter = self.inverter
        if inverter is None:
            return None
        return self.entity_description.value_fn(inverter)

    async def async_set_value(self, value: time) -> None:
        """Move this end of the slot. The state changes when the gateway reports it."""
        hhmm = time_to_hhmm(value)
        if self.entity_description.slot_field == "start":
            schedule_json = slot_schedule_json(start=hhmm)
        else:
            schedule_json = slot_schedule_json(end=hhmm)
        await self.async_send_command(self.entity_description.command, schedule_json)
