"""Charge and discharge limits of each inverter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfPower
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
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

# NOTE: an estimate, used only when neither the battery nor the inverter
# reports a maximum rate. It covers common single-phase home inverters, so
# the full rate of a larger one cannot be set until the firmware reports it.
DEFAULT_RATE_MAX_W = 10_000


def max_rate_w(inverter: InverterStatus) -> int:
    """Return the highest charge or discharge rate to offer, in W.

    The rate limits the battery's power, so the battery's maximum comes first,
    then the inverter's, then DEFAULT_RATE_MAX_W.
    """
    if inverter.battery is not None and inverter.battery.rate_max_w is not None:
        return inverter.battery.rate_max_w
    if inverter.inverter is not None and inverter.inverter.rate_max_w is not None:
        return inverter.inverter.rate_max_w
    return DEFAULT_RATE_MAX_W


@dataclass(frozen=True, kw_only=True)
class PredbatNumberEntityDescription(
    NumberEntityDescription, PredbatInverterEntityDescription
):
    """Description of an inverter setting and the command that changes it."""

    command: CommandName
    value_fn: Callable[[InverterStatus], int | None]
    # Reads the upper limit from the telemetry. None keeps native_max_value.
    max_value_fn: Callable[[InverterStatus], int] | None = None


NUMBERS: tuple[PredbatNumberEntityDescription, ...] = (
    PredbatNumberEntityDescription(
        key="charge_rate",
        translation_key="charge_rate",
        command=CommandName.SET_CHARGE_RATE,
        device_class=NumberDeviceClass.POWER,
        entity_category=EntityCategory.CONFIG,
        native_unit_of_measurement=UnitOfPower.WATT,
        native_min_value=0,
        native_step=1,
        mode=NumberMode.BOX,
        max_value_fn=max_rate_w,
        value_fn=lambda inverter: (
            inverter.control.charge_rate_w if inverter.control else None
        ),
    ),
    PredbatNumberEntityDescription(
        key="discharge_rate",
        translation_key="discharge_rate",
        command=CommandName.SET_DISCHARGE_RATE,
        device_class=NumberDeviceClass.POWER,
        entity_category=EntityCategory.CONFIG,
        native_unit_of_measurement=UnitOfPower.WATT,
        native_min_value=0,
        native_step=1,
        mode=NumberMode.BOX,
        max_value_fn=max_rate_w,
        value_fn=lambda inverter: (
            inverter.control.discharge_rate_w if inverter.control else None
        ),
    ),
    PredbatNumberEntityDescription(
        key="reserve_soc",
        translation_key="reserve_soc",
        command=CommandName.SET_RESERVE,
        device_class=NumberDeviceClass.BATTERY,
        entity_category=EntityCategory.CONFIG,
        native_unit_of_measurement=PERCENTAGE,
        native_min_value=0,
        native_max_value=100,
        native_step=1,
        value_fn=lambda inverter: (
            inverter.control.reserve_soc if inverter.control else None
        ),
    ),
    PredbatNumberEntityDescription(
        key="target_soc",
        translation_key="target_soc",
        command=CommandName.SET_TARGET_SOC,
        device_class=NumberDeviceClass.BATTERY,
        entity_category=EntityCategory.CONFIG,
        native_unit_of_measurement=PERCENTAGE,
        native_min_value=0,
        native_max_value=100,
        native_step=1,
        value_fn=lambda inverter: (
            inverter.control.target_soc if inverter.control else None
        ),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PredbatGatewayConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each inverter's limits once its control section arrives."""
    async_add_inverter_entities(entry, async_add_entities, NUMBERS, PredbatNumber)


class PredbatNumber(
    PredbatInverterEntity[PredbatNumberEntityDescription], NumberEntity
):
    """A charge or discharge limit of one inverter."""

    entity_description: PredbatNumberEntityDescription

    @property
    def native_value(self) -> int | None:
        """Return the value the inverter reported last."""
        inverter = self.inverter
        if inverter is None:
            return None
        return self.entity_description.value_fn(inverter)

    @property
    def native_max_value(self) -> float:
        """Return the upper limit, from the telemetry where it depends on the hardware."""
        max_value_fn = self.entity_description.max_value_fn
        inverter = self.inverter
        if max_value_fn is None or inverter is None:
            return super().native_max_value
        return max_value_fn(inverter)

    async def async_set_native_value(self, value: float) -> None:
        """Send the new value. The state changes when the gateway reports it.

        Raises ServiceValidationError, before anything is sent, for a value
        outside the entity's range.
        """
        minimum = self.native_min_value
        maximum = self.native_max_value
        if not minimum <= value <= maximum:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="value_out_of_range",
                translation_placeholders={
                    "value": f"{value:g}",
                    "min": f"{minimum:g}",
                    "max": f"{maximum:g}",
                    "unit": self.native_unit_of_measurement or "",
                },
            )
        # The gateway takes whole numbers. With a step of 1, a fraction can
        # only come from a direct call, and it is rounded.
        await self.async_send_command(self.entity_description.command, round(value))
