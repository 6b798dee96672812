"""Entity base classes, device records and dynamic inverter entities."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN, MANUFACTURER
from .coordinator import PredbatGatewayCoordinator
from .protocol.commands import Command, CommandName
from .protocol.telemetry import GatewayStatus, InverterStatus, InverterType

if TYPE_CHECKING:
    from . import PredbatGatewayConfigEntry

# Manufacturer and fallback model of each inverter family. The model from the
# telemetry, when the firmware sends one, takes precedence over the fallback.
_INVERTER_MAKES: dict[InverterType, tuple[str | None, str | None]] = {
    InverterType.SOLIS_HYBRID: ("Solis", "Solis hybrid"),
    InverterType.SOLIS_AC: ("Solis", "Solis AC-coupled"),
    InverterType.SOFAR_G3: ("Sofar", "Sofar G3"),
    InverterType.GROWATT_SPH: ("Growatt", "Growatt SPH"),
    # One firmware type covers Deye and Sunsynk units, so the model names both.
    InverterType.DEYE_SUNSYNK: ("Deye", "Deye/Sunsynk hybrid"),
    InverterType.GIVENERGY: ("GivEnergy", "GivEnergy inverter"),
    InverterType.GIVENERGY_EMS: ("GivEnergy", "GivEnergy EMS"),
    InverterType.GIVENERGY_GATEWAY: ("GivEnergy", "GivEnergy Gateway"),
    InverterType.ALPHA_ESS: ("AlphaESS", "AlphaESS"),
    # A demo inverter is no inverter maker's hardware.
    InverterType.DEMO: (MANUFACTURER, "Demo inverter"),
    InverterType.CUSTOM: (None, "Custom inverter"),
    InverterType.UNKNOWN: (None, None),
}


def gateway_device_info(coordinator: PredbatGatewayCoordinator) -> DeviceInfo:
    """Build the device record of the gateway itself."""
    info = DeviceInfo(
        identifiers={(DOMAIN, coordinator.device_id)},
        name=f"Predbat gateway {coordinator.device_id}",
        manufacturer=MANUFACTURER,
        model="Gateway",
    )
    status = coordinator.data.status
    # Left out while unknown, so a restart does not clear the stored version.
    if status is not None and status.firmware:
        info["sw_version"] = status.firmware
    return info


def inverter_device_info(
    inverter: InverterStatus, gateway_device_id: str
) -> DeviceInfo:
    """Build the device record of one inverter, linked to its gateway."""
    manufacturer, fallback_model = _INVERTER_MAKES.get(inverter.type, (None, None))
    info = DeviceInfo(
        identifiers={(DOMAIN, inverter.serial)},
        name=f"Inverter {inverter.serial}",
        serial_number=inverter.serial,
        via_device_id=gateway_device_id,
    )
    if manufacturer is not None:
        info["manufacturer"] = manufacturer
    if model := inverter.model or fallback_model:
        info["model"] = model
    return info


@callback
def async_register_gateway_device(
    hass: HomeAssistant, coordinator: PredbatGatewayCoordinator
) -> str:
    """Create or update the gateway's device record and return its id.

    Inverter devices name the gateway as their via device by registry id, so
    the gateway record must exist before the first inverter entity is added,
    whichever platform adds it.
    """
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=coordinator.config_entry.entry_id,
        **gateway_device_info(coordinator),
    )
    return device.id


@callback
def async_on_device_removed(
    entry: PredbatGatewayConfigEntry, forget: Callable[[str], None]
) -> None:
    """Call `forget` with the identifier of each device of this entry that leaves the registry.

    The identifier is an inverter's serial or the gateway's device id. A
    device leaves when the user deletes it or when the registry cleans it up.
    The listener stops when the entry unloads.
    """

    @callback
    def forget_identifiers(event: Event[dr.EventDeviceRegistryUpdatedData]) -> None:
        data = event.data
        if data["action"] != "remove":
            return
        if data["device"]["config_entry_id"] != entry.entry_id:
            return
        for domain, identifier in data["device"]["identifiers"]:
            if domain == DOMAIN:
                forget(identifier)

    entry.async_on_unload(
        entry.runtime_data.hass.bus.async_listen(
            dr.EVENT_DEVICE_REGISTRY_UPDATED, forget_identifiers
        )
    )


@callback
def async_keep_device_records_current(entry: PredbatGatewayConfigEntry) -> None:
    """Update the device records when the firmware version or a model changes.

    An entity passes its device info to the registry only when it is added,
    but the first status can arrive after that, and firmware updates arrive
    while Home Assistant runs. Only inverters in the latest status get a
    record, so an inverter's device that the user deleted comes back when the
    gateway reports that serial again, not before.
    """
    coordinator = entry.runtime_data
    device_registry = dr.async_get(coordinator.hass)
    written: dict[str, DeviceInfo] = {}
    gateway_device_id = ""

    @callback
    def write_changed_records() -> None:
        nonlocal gateway_device_id
        gateway_info = gateway_device_info(coordinator)
        if written.get(coordinator.device_id) != gateway_info:
            gateway_device_id = device_registry.async_get_or_create(
                config_entry_id=entry.entry_id, **gateway_info
            ).id
            written[coordinator.device_id] = gateway_info
        for serial, inverter in coordinator.data.inverters.items():
            info = inverter_device_info(inverter, gateway_device_id)
            if written.get(serial) != info:
                device_registry.async_get_or_create(
                    config_entry_id=entry.entry_id, **info
                )
                written[serial] = info

    @callback
    def forget_written_record(identifier: str) -> None:
        written.pop(identifier, None)

    write_changed_records()
    async_on_device_removed(entry, forget_written_record)
    entry.async_on_unload(coordinator.async_add_listener(write_changed_records))


@dataclass(frozen=True, kw_only=True)
class PredbatInverterEntityDescription(EntityDescription):
    """Description of an inverter entity, with the function that reads its value.

    `value_fn` returns None when the firmware did not report the value: the
    entity is then unavailable, or not created yet.
    """

    value_fn: Callable[[InverterStatus], object]


class PredbatGatewayBaseEntity(CoordinatorEntity[PredbatGatewayCoordinator]):
    """Base of every entity of this integration."""

    _attr_has_entity_name = True


class PredbatGatewayEntity[DescriptionT: EntityDescription](PredbatGatewayBaseEntity):
    """An entity of the gateway device, fed from the gateway's own fields."""

    entity_description: DescriptionT

    def __init__(
        self, coordinator: PredbatGatewayCoordinator, description: DescriptionT
    ) -> None:
        """Attach the entity to the gateway device."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = f"{coordinator.device_id}_{description.key}"
        self._attr_device_info = gateway_device_info(coordinator)

    @property
    def status(self) -> GatewayStatus | None:
        """Latest status with telemetry, or None before the first one."""
        return self.coordinator.data.status

    @property
    def available(self) -> bool:
        """Return whether the gateway is reachable and has sent a status."""
        return (
            super().available
            and self.coordinator.gateway_available
            and self.status is not None
        )


class PredbatInverterEntity[DescriptionT: PredbatInverterEntityDescription](
    PredbatGatewayBaseEntity
):
    """An entity of one inverter behind the gateway."""

    entity_description: DescriptionT

    def __init__(
        self,
        coordinator: PredbatGatewayCoordinator,
        inverter: InverterStatus,
        description: DescriptionT,
        gateway_device_id: str,
    ) -> None:
        """Attach the entity to the inverter's device."""
        super().__init__(coordinator)
        self.entity_description = description
        self.serial = inverter.serial
        self._attr_unique_id = f"{inverter.serial}_{description.key}"
        self._attr_device_info = inverter_device_info(inverter, gateway_device_id)

    @property
    def inverter(self) -> InverterStatus | None:
        """Latest telemetry of this inverter, or None when the last status left it out."""
        return self.coordinator.data.inverters.get(self.serial)

    @property
    def available(self) -> bool:
        """Return whether the gateway is reachable and reports this value."""
        inverter = self.inverter
        return (
            super().available
            and self.coordinator.gateway_available
            and inverter is not None
            and self.entity_description.value_fn(inverter) is not None
        )

    async def async_send_command(
        self, name: CommandName, value: int | bool | str
    ) -> None:
        """Send a command to this inverter.

        The coordinator raises ServiceValidationError or HomeAssistantError,
        with translation keys, when the command is invalid or cannot be sent.
        The entity's state is left alone: the next status shows the new value.
        """
        await self.coordinator.async_send_command(Command(name, self.serial, value))


@callback
def async_add_inverter_entities[DescriptionT: PredbatInverterEntityDescription](
    entry: PredbatGatewayConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    descriptions: Iterable[DescriptionT],
    entity_class: Callable[
        [PredbatGatewayCoordinator, InverterStatus, DescriptionT, str], Entity
    ],
) -> None:
    """Add each inverter entity the first time its value is reported.

    Runs now and after every status, so inverters that join later and
    sections that a later status adds get their entities too. An entity
    whose value the firmware never reports is not created at all. Deleting
    an inverter's device removes its entities from the registry, so they are
    added again if the gateway reports that serial later.
    """
    coordinator = entry.runtime_data
    descriptions = tuple(descriptions)
    added: set[tuple[str, str]] = set()

    @callback
    def forget_added_entities(serial: str) -> None:
        added.difference_update(
            {(serial, description.key) for description in descriptions}
        )

    @callback
    def add_new_entities() -> None:
        new_entities: list[Entity] = []
        gateway_device_id: str | None = None
        for serial, inverter in coordinator.data.inverters.items():
            for description in descriptions:
                if (serial, description.key) in added:
                    continue
                if description.value_fn(inverter) is None:
                    continue
                if gateway_device_id is None:
                    gateway_device_id = async_register_gateway_device(
                        coordinator.hass, coordinator
                    )
                added.add((serial, description.key))
                new_entities.append(
                    entity_class(coordinator, inverter, description, gateway_device_id)
                )
        if new_entities:
            async_add_entities(new_entities)

    add_new_entities()
    async_on_device_removed(entry, forget_added_entities)
    entry.async_on_unload(coordinator.async_add_listener(add_new_entities))
