"""Decode the gateway's protobuf status into typed, immutable telemetry.

proto3 leaves zero values off the wire, so the firmware uses 0 for "not
reported" in a few fields. The decoder turns those into None, and a section the
firmware did not send at all (no battery block, say) is None as a whole.

Sign conventions are the firmware's, unchanged: battery power and current are
positive while charging, grid power is positive while exporting.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from google.protobuf.message import DecodeError

from . import predbat_pb2 as pb
from .errors import PayloadError


class InverterType(StrEnum):
    """Inverter family, named as on the wire without the INVERTER_TYPE_ prefix."""

    UNKNOWN = "unknown"
    SOLIS_HYBRID = "solis_hybrid"
    SOLIS_AC = "solis_ac"
    SOFAR_G3 = "sofar_g3"
    GROWATT_SPH = "growatt_sph"
    DEYE_SUNSYNK = "deye_sunsynk"
    GIVENERGY = "givenergy"
    GIVENERGY_EMS = "givenergy_ems"
    GIVENERGY_GATEWAY = "givenergy_gateway"
    ALPHA_ESS = "alpha_ess"
    DEMO = "demo"
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class BatteryStatus:
    """Battery figures; power and current are positive while charging."""

    soc_percent: int
    voltage_v: float
    current_a: float
    power_w: int
    temperature_c: float
    soh_percent: int | None
    cycle_count: int
    capacity_wh: int
    rate_max_w: int | None
    depth_of_discharge_percent: int | None


@dataclass(frozen=True, slots=True)
class GridStatus:
    """Grid connection figures; power is positive while exporting."""

    power_w: int
    voltage_v: float | None
    frequency_hz: float


@dataclass(frozen=True, slots=True)
class InverterData:
    """Inverter output figures."""

    active_power_w: int
    temperature_c: float
    rate_max_w: int | None


@dataclass(frozen=True, slots=True)
class ControlStatus:
    """Control settings as the inverter reports them."""

    charge_enabled: bool
    discharge_enabled: bool
    charge_rate_w: int
    discharge_rate_w: int
    reserve_soc: int
    target_soc: int
    force_power_w: int
    command_expires: int
    # None when the gateway did not read a limit, which means no limit.
    export_limit_w: int | None


@dataclass(frozen=True, slots=True)
class ScheduleStatus:
    """Timed charge and discharge windows, in HHMM form (2400 is end of day)."""

    charge_start: int
    charge_end: int
    discharge_start: int
    discharge_end: int


@dataclass(frozen=True, slots=True)
class EnergyCounters:
    """Energy since local midnight, in Wh."""

    pv_today_wh: int
    grid_import_today_wh: int
    grid_export_today_wh: int
    battery_charge_today_wh: int
    battery_discharge_today_wh: int
    consumption_today_wh: int


@dataclass(frozen=True, slots=True)
class EmsSubInverter:
    """One inverter's figures as a GivEnergy EMS reports them."""

    soc_percent: int
    battery_w: int
    pv_w: int
    grid_w: int
    temperature_c: float


@dataclass(frozen=True, slots=True)
class EmsStatus:
    """Site totals from an energy management system."""

    inverter_count: int
    total_soc_percent: int
    total_charge_w: int
    total_discharge_w: int
    total_grid_w: int
    total_pv_w: int
    total_load_w: int
    sub_inverters: tuple[EmsSubInverter, ...]


@dataclass(frozen=True, slots=True)
class InverterStatus:
    """One inverter behind the gateway."""

    serial: str
    type: InverterType
    model: str
    ip: str
    dongle_serial: str
    connected: bool
    active: bool
    managed: bool
    primary: bool
    battery: BatteryStatus | None
    pv_power_w: int | None
    grid: GridStatus | None
    load_power_w: int | None
    inverter: InverterData | None
    control: ControlStatus | None
    schedule: ScheduleStatus | None
    ems: EmsStatus | None
    energy: EnergyCounters | None


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    """One decoded status message."""

    device_id: str
    firmware: str
    timestamp: int
    schema_version: int
    uptime_seconds: int
    wifi_rssi_dbm: int | None
    wifi_ssid: str
    free_heap_bytes: int
    dongle_count: int
    inverters: tuple[InverterStatus, ...]


def _nonzero[T: (int, float)](value: T) -> T | None:
    """Map the firmware's 0 = "not reported" to None."""
    return value if value else None


def _inverter_type(value: int) -> InverterType:
    try:
        wire_name = pb.InverterType.Name(value)
    except ValueError:
        # A type added by newer firmware.
        return InverterType.UNKNOWN
    return InverterType(wire_name.removeprefix("INVERTER_TYPE_").lower())


def _battery(msg: pb.BatteryStatus) -> BatteryStatus:
    return BatteryStatus(
        soc_percent=msg.soc_percent,
        voltage_v=round(msg.voltage_v, 3),
        current_a=round(msg.current_a, 3),
        power_w=msg.power_w,
        temperature_c=round(msg.temperature_c, 2),
        soh_percent=_nonzero(msg.soh_percent),
        cycle_count=msg.cycle_count,
        capacity_wh=msg.capacity_wh,
        rate_max_w=_nonzero(msg.rate_max_w),
        depth_of_discharge_percent=_nonzero(msg.depth_of_discharge_pct),
    )


def _control(msg: pb.ControlStatus) -> ControlStatus:
    # The firmware sends 1 for a limit of zero, because 0 means "not read".
    export_limit: int | None
    if msg.export_limit_w == 0:
        export_limit = None
    elif msg.export_limit_w == 1:
        export_limit = 0
    else:
        export_limit = msg.export_limit_w
    return ControlStatus(
        charge_enabled=msg.charge_enabled,
        discharge_enabled=msg.discharge_enabled,
        charge_rate_w=msg.charge_rate_w,
        discharge_rate_w=msg.discharge_rate_w,
        reserve_soc=msg.reserve_soc,
        target_soc=msg.target_soc,
        force_power_w=msg.force_power_w,
        command_expires=msg.command_expires,
        export_limit_w=export_limit,
    )


def _ems(msg: pb.EmsStatus) -> EmsStatus:
    return EmsStatus(
        inverter_count=msg.num_inverters,
        total_soc_percent=msg.total_soc,
        total_charge_w=msg.total_charge_w,
        total_discharge_w=msg.total_discharge_w,
        total_grid_w=msg.total_grid_w,
        total_pv_w=msg.total_pv_w,
        total_load_w=msg.total_load_w,
        sub_inverters=tuple(
            EmsSubInverter(
                soc_percent=sub.soc,
                battery_w=sub.battery_w,
                pv_w=sub.pv_w,
                grid_w=sub.grid_w,
                temperature_c=round(sub.temp_c, 2),
            )
            for sub in msg.sub_inverters
        ),
    )


def _inverter(msg: pb.InverterEntry) -> InverterStatus:
    battery = _battery(msg.battery) if msg.HasField("battery") else None
    grid = None
    if msg.HasField("grid"):
        grid = GridStatus(
            power_w=msg.grid.power_w,
            voltage_v=_nonzero(round(msg.grid.voltage_v, 2)),
            frequency_hz=round(msg.grid.frequency_hz, 3),
        )
    inverter = None
    if msg.HasField("inverter"):
        inverter = InverterData(
            active_power_w=msg.inverter.active_power_w,
            temperature_c=round(msg.inverter.temperature_c, 2),
            rate_max_w=_nonzero(msg.inverter.rate_max_w),
        )
    schedule = None
    if msg.HasField("schedule"):
        schedule = ScheduleStatus(
            charge_start=msg.schedule.charge_start,
            charge_end=msg.schedule.charge_end,
            discharge_start=msg.schedule.discharge_start,
            discharge_end=msg.schedule.discharge_end,
        )
    energy = None
    if msg.HasField("energy"):
        energy = EnergyCounters(
            pv_today_wh=msg.energy.pv_today_wh,
            grid_import_today_wh=msg.energy.grid_import_today_wh,
            grid_export_today_wh=msg.energy.grid_export_today_wh,
            battery_charge_today_wh=msg.energy.battery_charge_today_wh,
            battery_discharge_today_wh=msg.energy.battery_discharge_today_wh,
            consumption_today_wh=msg.energy.consumption_today_wh,
        )
    return InverterStatus(
        serial=msg.serial,
        type=_inverter_type(msg.type),
        model=msg.model,
        ip=msg.ip,
        dongle_serial=msg.dongle_serial,
        connected=msg.connected,
        active=msg.active,
        managed=msg.managed,
        primary=msg.primary,
        battery=battery,
        pv_power_w=msg.pv.power_w if msg.HasField("pv") else None,
        grid=grid,
        load_power_w=msg.load.power_w if msg.HasField("load") else None,
        inverter=inverter,
        control=_control(msg.control) if msg.HasField("control") else None,
        schedule=schedule,
        ems=_ems(msg.ems) if msg.HasField("ems") else None,
        energy=energy,
    )


def decode_status(payload: bytes) -> GatewayStatus:
    """Decode a payload from the `status` topic.

    Raises PayloadError when the bytes are not a GatewayStatus, or when an
    inverter entry has no serial (commands could not address it).
    """
    message = pb.GatewayStatus()
    try:
        message.ParseFromString(payload)
    except DecodeError as err:
        raise PayloadError(
            f"status payload of {len(payload)} bytes is not a GatewayStatus: {err}"
        ) from err
    inverters = tuple(_inverter(entry) for entry in message.inverters)
    for inverter in inverters:
        if not inverter.serial:
            raise PayloadError("status payload has an inverter entry without a serial")
    return GatewayStatus(
        device_id=message.device_id,
        firmware=message.firmware,
        timestamp=message.timestamp,
        schema_version=message.schema_version,
        uptime_seconds=message.uptime_seconds,
        wifi_rssi_dbm=_nonzero(message.wifi_rssi_dbm),
        wifi_ssid=message.wifi_ssid,
        free_heap_bytes=message.free_heap_bytes,
        dongle_count=message.dongle_count,
        inverters=inverters,
    )
