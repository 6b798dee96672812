"""Connectivity sensor of the gateway."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import PredbatGatewayEntity, async_keep_device_records_current

if TYPE_CHECKING:
    from . import PredbatGatewayConfigEntry

PARALLEL_UPDATES = 0

ONLINE_DESCRIPTION = BinarySensorEntityDescription(
    key="online",
    translation_key="online",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PredbatGatewayConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the gateway's connectivity sensor."""
    # Every entry sets up this platform once, so the device records are
    # kept current from here rather than from each platform.
    async_keep_device_records_current(entry)
    async_add_entities(
        [PredbatGatewayOnlineSensor(entry.runtime_data, ONLINE_DESCRIPTION)]
    )


class PredbatGatewayOnlineSensor(
    PredbatGatewayEntity[BinarySensorEntityDescription], BinarySensorEntity
):
    """Whether the gateway is online and sending telemetry.

    Unlike the other entities, this one stays available while the gateway is
    offline, so it can show "off". It is unavailable only while Home
    Assistant has no session with the broker, because then nothing is known.
    """

    entity_description: BinarySensorEntityDescription

    @property
    def available(self) -> bool:
        """Return whether the broker session is up."""
        return self.coordinator.connected

    @property
    def is_on(self) -> bool:
        """Return whether the gateway is online and its telemetry is fresh.

        The broker sends the retained `online` message when the session
        starts. Until it arrives, fresh telemetry is enough.
        """
        online = self.coordinator.data.online
        return online is not False and self.coordinator.telemetry_fresh
