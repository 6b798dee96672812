"""Timed charge and discharge switches of each inverter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from homeassistant.components.switch import (
    SwitchEntity,
    SwitchEntityDescription,
)
from homeassistant.components.switch.const import SwitchDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import (
    PredbatInverterEntity,
    PredbatInverterEntityDescription,
    async_add_inverter_entities,
)
from .protocol.commands import CommandName
from .protocol.telemetry import InverterStatus

if TYPE_CHECKING:
    from . import PredbatGatewayConfigEntry

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class PredbatSwitchEntityDescription(
    SwitchEntityDescription, PredbatInverterEntityDescription
):
    """Description of an inverter flag and the command that sets it."""

    command: CommandName
    value_fn: Callable[[InverterStatus], bool | None]


SWITCHES: tuple[PredbatSwitchEntityDescription, ...] = (
    # Lets the inverter charge from the grid during its charge slot.
    PredbatSwitchEntityDescription(
        key="charge_enabled",
        translation_key="charge_enabled",
        command=CommandName.SET_CHARGE_ENABLE,
        device_class=SwitchDeviceClass.SWITCH,
        entity_category=EntityCategory.CONFIG,
        value_fn=lambda inverter: (
            inverter.control.charge_enabled if inverter.control else None
        ),
    ),
    # Lets the inverter discharge (export) during its discharge slot.
    PredbatSwitchEntityDescription(
        key="discharge_enabled",
        translation_key="discharge_enabled",
        command=CommandName.SET_DISCHARGE_ENABLE,
        device_class=SwitchDeviceClass.SWITCH,
        entity_category=EntityCategory.CONFIG,
        value_fn=lambda inverter: (
            inverter.control.discharge_enabled if inverter.control else None
        ),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PredbatGatewayConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each inverter's switches once its control section arrives."""
    async_add_inverter_entities(entry, async_add_entities, SWITCHES, PredbatSwitch)


class PredbatSwitch(
    PredbatInverterEntity[PredbatSwitchEntityDescription], SwitchEntity
):
    """A timed charge or discharge flag of one inverter.

    The state is the one the inverter reported last, also right after a
    command: the next status confirms the change or shows it did not happen.
    """

    entity_description: PredbatSwitchEntityDescription

    @property
    def is_on(self) -> bool | None:
        """Return the flag the inverter reported last."""
        inverter = self.inverter
        if inverter is None:
            return None
        return self.entity_description.value_fn(inverter)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Send the command that sets the flag."""
        await self.async_send_command(self.entity_description.command, True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Send the command that clears the flag."""
        await self.async_send_command(self.entity_description.command, False)
