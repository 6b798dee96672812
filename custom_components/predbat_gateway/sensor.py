"""Sensors for the gateway and for each inverter behind it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfInformation,
    UnitOfPower,
    UnitOfTemperature,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .coordinator import PredbatGatewayCoordinator
from .entity import (
    PredbatGatewayEntity,
    PredbatInverterEntity,
    PredbatInverterEntityDescription,
    async_add_inverter_entities,
)
from .protocol.telemetry import GatewayStatus, InverterStatus

if TYPE_CHECKING:
    from . import PredbatGatewayConfigEntry

PARALLEL_UPDATES = 0

# The boot time is computed from the uptime on each status, so it jitters by
# the message delay. A change smaller than this keeps the previous value and
# so writes no new state. A gateway that restarts sooner than this after its
# previous start is not noticed.
BOOT_TIME_TOLERANCE = timedelta(minutes=1)


def _negated[T: (int, float)](value: T) -> T:
    """Flip the sign of a value, writing `0 - value` so a float zero does not become -0.0."""
    return 0 - value


def _kilowatt_hours(watt_hours: int) -> float:
    return watt_hours / 1000


@dataclass(frozen=True, kw_only=True)
class PredbatInverterSensorEntityDescription(
    SensorEntityDescription, PredbatInverterEntityDescription
):
    """Description of an inverter sensor.

    `value_fn` returns the value in Home Assistant's sign convention, which is
    not always the firmware's: see the battery and grid entries below.
    """

    value_fn: Callable[[InverterStatus], StateType]


@dataclass(frozen=True, kw_only=True)
class PredbatGatewaySensorEntityDescription(SensorEntityDescription):
    """Description of a sensor of the gateway itself."""

    value_fn: Callable[[GatewayStatus], StateType | datetime]


INVERTER_SENSORS: tuple[PredbatInverterSensorEntityDescription, ...] = (
    PredbatInverterSensorEntityDescription(
        key="battery_soc",
        translation_key="battery_soc",
        device_class=SensorDeviceClass.BATTERY,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        value_fn=lambda inverter: (
            inverter.battery.soc_percent if inverter.battery else None
        ),
    ),
    # The firmware reports battery power and current as positive while
    # charging. The Energy dashboard reads a battery power sensor as positive
    # while discharging (homeassistant/components/energy/data.py), so both
    # are negated.
    PredbatInverterSensorEntityDescription(
        key="battery_power",
        translation_key="battery_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=lambda inverter: (
            _negated(inverter.battery.power_w) if inverter.battery else None
        ),
    ),
    PredbatInverterSensorEntityDescription(
        key="battery_current",
        translation_key="battery_current",
        device_class=SensorDeviceClass.CURRENT,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        suggested_display_precision=1,
        value_fn=lambda inverter: (
            _negated(inverter.battery.current_a) if inverter.battery else None
        ),
    ),
    PredbatInverterSensorEntityDescription(
        key="battery_voltage",
        translation_key="battery_voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        suggested_display_precision=1,
        value_fn=lambda inverter: (
            inverter.battery.voltage_v if inverter.battery else None
        ),
    ),
    PredbatInverterSensorEntityDescription(
        key="battery_temperature",
        translation_key="battery_temperature",
        device_class=SensorDeviceClass.TEMPERATURE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        suggested_display_precision=1,
        value_fn=lambda inverter: (
            inverter.battery.temperature_c if inverter.battery else None
        ),
    ),
    PredbatInverterSensorEntityDescription(
        key="battery_soh",
        translation_key="battery_soh",
        entity_category=EntityCategory.DIAGNOSTIC,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        value_fn=lambda inverter: (
            inverter.battery.soh_percent if inverter.battery else None
        ),
    ),
    # A counter that only grows while the battery lasts, hence TOTAL_INCREASING:
    # a new battery starts a new count, which statistics treat as a reset.
    PredbatInverterSensorEntityDescription(
        key="battery_cycle_count",
        translation_key="battery_cycle_count",
        entity_category=EntityCategory.DIAGNOSTIC,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=0,
        value_fn=lambda inverter: (
            inverter.battery.cycle_count if inverter.battery else None
        ),
    ),
    # proto3 sends 0 for a field the firmware did not fill, and no battery
    # has a capacity of 0 Wh, so 0 is read as "not reported".
    PredbatInverterSensorEntityDescription(
        key="battery_capacity",
        translation_key="battery_capacity",
        device_class=SensorDeviceClass.ENERGY_STORAGE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=lambda inverter: (
            _kilowatt_hours(inverter.battery.capacity_wh)
            if inverter.battery and inverter.battery.capacity_wh
            else None
        ),
    ),
    PredbatInverterSensorEntityDescription(
        key="pv_power",
        translation_key="pv_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=lambda inverter: inverter.pv_power_w,
    ),
    # The firmware reports grid power as positive while exporting. The Energy
    # dashboard reads a grid power sensor as positive while importing, so it
    # is negated.
    PredbatInverterSensorEntityDescription(
        key="grid_power",
        translation_key="grid_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=lambda inverter: (
            _negated(inverter.grid.power_w) if inverter.grid else None
        ),
    ),
    PredbatInverterSensorEntityDescription(
        key="grid_voltage",
        translation_key="grid_voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        suggested_display_precision=1,
        value_fn=lambda inverter: inverter.grid.voltage_v if inverter.grid else None,
    ),
    PredbatInverterSensorEntityDescription(
        key="grid_frequency",
        translation_key="grid_frequency",
        device_class=SensorDeviceClass.FREQUENCY,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfFrequency.HERTZ,
        suggested_display_precision=2,
        value_fn=lambda inverter: inverter.grid.frequency_hz if inverter.grid else None,
    ),
    PredbatInverterSensorEntityDescription(
        key="load_power",
        translation_key="load_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=lambda inverter: inverter.load_power_w,
    ),
    # The inverter's AC output, in the firmware's sign convention.
    PredbatInverterSensorEntityDescription(
        key="inverter_power",
        translation_key="inverter_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=lambda inverter: (
            inverter.inverter.active_power_w if inverter.inverter else None
        ),
    ),
    PredbatInverterSensorEntityDescription(
        key="inverter_temperature",
        translation_key="inverter_temperature",
        device_class=SensorDeviceClass.TEMPERATURE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        suggested_display_precision=1,
        value_fn=lambda inverter: (
            inverter.inverter.temperature_c if inverter.inverter else None
        ),
    ),
    # The energy counters restart from 0 at local midnight. TOTAL_INCREASING
    # takes each drop as a new cycle, so the Energy dashboard can use them.
    PredbatInverterSensorEntityDescription(
        key="pv_energy_today",
        translation_key="pv_energy_today",
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=lambda inverter: (
            _kilowatt_hours(inverter.energy.pv_today_wh) if inverter.energy else None
        ),
    ),
    PredbatInverterSensorEntityDescription(
        key="grid_import_today",
        translation_key="grid_import_today",
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=lambda inverter: (
            _kilowatt_hours(inverter.energy.grid_import_today_wh)
            if inverter.energy
            else None
        ),
    ),
    PredbatInverterSensorEntityDescription(
        key="grid_export_today",
        translation_key="grid_export_today",
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=lambda inverter: (
            _kilowatt_hours(inverter.energy.grid_export_today_wh)
            if inverter.energy
            else None
        ),
    ),
    PredbatInverterSensorEntityDescription(
        key="battery_charge_today",
        translation_key="battery_charge_today",
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=lambda inverter: (
            _kilowatt_hours(inverter.energy.battery_charge_today_wh)
            if inverter.energy
            else None
        ),
    ),
    PredbatInverterSensorEntityDescription(
        key="battery_discharge_today",
        translation_key="battery_discharge_today",
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=lambda inverter: (
            _kilowatt_hours(inverter.energy.battery_discharge_today_wh)
            if inverter.energy
            else None
        ),
    ),
    PredbatInverterSensorEntityDescription(
        key="consumption_today",
        translation_key="consumption_today",
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=lambda inverter: (
            _kilowatt_hours(inverter.energy.consumption_today_wh)
            if inverter.energy
            else None
        ),
    ),
)

GATEWAY_SENSORS: tuple[PredbatGatewaySensorEntityDescription, ...] = (
    PredbatGatewaySensorEntityDescription(
        key="wifi_signal",
        translation_key="wifi_signal",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda status: status.wifi_rssi_dbm,
    ),
    # The time of the gateway's last start rather than a growing uptime count,
    # so the state changes only when the gateway restarts. An uptime of 0 is
    # proto3's "not set": the firmware has been running for a while by the
    # time it sends a status.
    PredbatGatewaySensorEntityDescription(
        key="last_restart",
        translation_key="last_restart",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda status: (
            dt_util.utcnow() - timedelta(seconds=status.uptime_seconds)
            if status.uptime_seconds
            else None
        ),
    ),
    PredbatGatewaySensorEntityDescription(
        key="free_heap",
        translation_key="free_heap",
        device_class=SensorDeviceClass.DATA_SIZE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfInformation.BYTES,
        suggested_unit_of_measurement=UnitOfInformation.KIBIBYTES,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda status: status.free_heap_bytes or None,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PredbatGatewayConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the gateway's sensors, and each inverter's as its values arrive."""
    coordinator = entry.runtime_data
    async_add_entities(
        PredbatGatewaySensor(coordinator, description)
        for description in GATEWAY_SENSORS
    )
    async_add_inverter_entities(
        entry, async_add_entities, INVERTER_SENSORS, PredbatInverterSensor
    )


class PredbatInverterSensor(
    PredbatInverterEntity[PredbatInverterSensorEntityDescription], SensorEntity
):
    """A sensor of one inverter."""

    entity_description: PredbatInverterSensorEntityDescription

    @property
    def native_value(self) -> StateType:
        """Return the value from the latest status."""
        inverter = self.inverter
        if inverter is None:
            return None
        return self.entity_description.value_fn(inverter)


class PredbatGatewaySensor(
    PredbatGatewayEntity[PredbatGatewaySensorEntityDescription], SensorEntity
):
    """A sensor of the gateway itself."""

    entity_description: PredbatGatewaySensorEntityDescription

    def __init__(
        self,
        coordinator: PredbatGatewayCoordinator,
        description: PredbatGatewaySensorEntityDescription,
    ) -> None:
        """Read the first value, if a status has arrived."""
        super().__init__(coordinator, description)
        self._value_source: GatewayStatus | None = None
        self._read_new_status()

    @callback
    def _read_new_status(self) -> None:
        """Take the value from a status not read before.

        The coordinator also notifies on availability changes without a new
        status; reading the old status again would move the boot time.
        """
        status = self.status
        if status is None or status is self._value_source:
            return
        self._value_source = status
        value = self.entity_description.value_fn(status)
        previous = self._attr_native_value
        if (
            isinstance(value, datetime)
            and isinstance(previous, datetime)
            and abs(value - previous) < BOOT_TIME_TOLERANCE
        ):
            return
        self._attr_native_value = value

    @property
    def available(self) -> bool:
        """Return whether the gateway is reachable and reports this value."""
        return super().available and self._attr_native_value is not None

    @callback
    def _handle_coordinator_update(self) -> None:
        self._read_new_status()
        super()._handle_coordinator_update()
