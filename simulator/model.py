"""Plausible, cheap physics for the simulated inverters, batteries and EV chargers.

Nothing here talks to the network: ``GatewaySimulator`` advances the model
with ``advance()`` and encodes it with ``build_status()``. Sign conventions
follow the gateway protocol: battery power is positive while charging, grid
power is positive while exporting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import datetime
import math
import random
import time

from custom_components.predbat_gateway.protocol import predbat_pb2

SCHEMA_VERSION = 1
DEFAULT_FIRMWARE = "1.4.2-sim"
# Addresses from the RFC 5737 documentation range: reported, never contacted.
DEFAULT_WIFI_IP = "192.0.2.10"
DEFAULT_INVERTER_IP = "192.0.2.41"

# The battery model loses this fraction of the energy in each direction.
_BATTERY_EFFICIENCY = 0.95
_NOMINAL_GRID_VOLTAGE = 240.0
_NOMINAL_FREQUENCY = 50.0
_MIN_LOAD_W = 120.0
_MAX_LOAD_W = 7000.0
_SECONDS_PER_HOUR = 3600.0
_PREROLL_STEP_SECONDS = 300.0


@dataclass(frozen=True)
class InverterConfig:
    """Fixed properties of one simulated inverter and its battery.

    An entry with ``inverter_type`` INVERTER_TYPE_GIVENERGY_EMS models a
    GivEnergy EMS: it has no battery or PV of its own, and its status carries
    the totals of the other entries. On such a site the firmware marks no unit
    as primary, so give every entry ``primary=False``.
    """

    serial: str = "SIM0000001"
    inverter_type: predbat_pb2.InverterType = predbat_pb2.INVERTER_TYPE_GIVENERGY
    model: str = "Hybrid Gen3"
    battery_capacity_wh: int = 9500
    battery_rate_max_w: int = 3600
    inverter_rate_max_w: int = 5000
    pv_peak_w: int = 4500
    export_limit_w: int = 3680
    """Grid export limit in W; 0 means not read (no limit), 1 means a limit of zero."""
    primary: bool = True
    initial_soc: float = 60.0
    ip: str = DEFAULT_INVERTER_IP
    dongle_serial: str = "WF0000001"
    base_load_w: float = 400.0
    """Average house load in W that this inverter supplies."""

    @property
    def is_ems(self) -> bool:
        """Whether this entry is a GivEnergy EMS that aggregates the others."""
        return self.inverter_type == predbat_pb2.INVERTER_TYPE_GIVENERGY_EMS


@dataclass
class ControlSettings:
    """Inverter settings that commands change and ``ControlStatus`` reports."""

    charge_enabled: bool = False
    discharge_enabled: bool = False
    charge_rate_w: int = 3600
    discharge_rate_w: int = 3600
    reserve_soc: int = 4
    target_soc: int = 100
    charge_start: int = 30
    charge_end: int = 430
    discharge_start: int = 1600
    discharge_end: int = 1900
    read_only: bool = False


@dataclass
class EnergyToday:
    """Energy counters in Wh since local midnight."""

    day: datetime.date
    pv: float = 0.0
    grid_import: float = 0.0
    grid_export: float = 0.0
    battery_charge: float = 0.0
    battery_discharge: float = 0.0
    consumption: float = 0.0


@dataclass
class InverterState:
    """The evolving state of one simulated inverter; powers in W."""

    config: InverterConfig
    control: ControlSettings
    soc: float
    energy: EnergyToday
    pv_w: float = 0.0
    load_w: float = 400.0
    battery_w: float = 0.0
    grid_w: float = 0.0
    cloud_factor: float = 0.9
    battery_temperature_c: float = 19.0
    inverter_temperature_c: float = 30.0
    grid_voltage_v: float = _NOMINAL_GRID_VOLTAGE
    grid_frequency_hz: float = _NOMINAL_FREQUENCY
    discharged_since_start_wh: float = 0.0
    cycle_count_at_start: int = 120


@dataclass(frozen=True)
class EvChargerConfig:
    """Fixed properties of one simulated OCPP EV charger."""

    charge_point_id: str = "SIMEV0001"
    max_current_a: int = 32
    current_limit_a: int = 16
    connected: bool = True
    session_active: bool = True


@dataclass
class EvChargerState:
    """The evolving state of one simulated EV charger."""

    config: EvChargerConfig
    current_limit_a: int
    connected: bool
    session_active: bool
    session_energy_wh: float = 0.0
    session_seconds: float = 0.0
    voltage_v: float = 230.0


@dataclass
class GatewayInfo:
    """Gateway-level fields of ``GatewayStatus`` that are not inverter data."""

    device_id: str
    firmware: str = DEFAULT_FIRMWARE
    wifi_ip: str = DEFAULT_WIFI_IP
    wifi_ssid: str = "predbat-sim"
    log_level: int = 3
    started_at: float = field(default_factory=time.time)
    wifi_rssi_dbm: float = -58.0
    free_heap_bytes: float = 150_000.0


def new_inverter_state(
    config: InverterConfig,
    now: float,
    rng: random.Random,
    *,
    estimate_today: bool = True,
) -> InverterState:
    """Create the state of a freshly started inverter.

    With estimate_today, the energy counters start from a noise-free run of
    the model from local midnight to now instead of zero.
    """
    control = ControlSettings(
        charge_rate_w=config.battery_rate_max_w,
        discharge_rate_w=config.battery_rate_max_w,
    )
    state = InverterState(
        config=config,
        control=control,
        soc=0.0 if config.is_ems else config.initial_soc,
        energy=EnergyToday(day=_local_date(now)),
        load_w=config.base_load_w,
        cycle_count_at_start=rng.randint(40, 600),
    )
    if estimate_today and not config.is_ems:
        state.energy = _estimate_energy_today(config, now, rng)
    return state


def new_ev_charger_state(config: EvChargerConfig) -> EvChargerState:
    """Create the state of a freshly started EV charger."""
    return EvChargerState(
        config=config,
        current_limit_a=config.current_limit_a,
        connected=config.connected,
        session_active=config.connected and config.session_active,
    )


def advance(
    inverters: list[InverterState],
    chargers: list[EvChargerState],
    now: float,
    seconds: float,
    rng: random.Random,
) -> None:
    """Move every inverter and charger forward by seconds, ending at wall-clock time now."""
    for state in inverters:
        if not state.config.is_ems:
            _advance_inverter(state, now, seconds, rng, noise=True)
    for charger in chargers:
        _advance_ev_charger(charger, seconds, rng)


def _advance_inverter(
    state: InverterState, now: float, seconds: float, rng: random.Random, *, noise: bool
) -> None:
    config = state.config
    hours = seconds / _SECONDS_PER_HOUR
    if noise:
        _wander_environment(state, seconds, rng)
    state.pv_w = config.pv_peak_w * solar_fraction(now) * state.cloud_factor
    state.load_w = (
        _next_load(state, now, seconds, rng) if noise else _mean_load(config, now)
    )

    state.battery_w = _battery_power(state, hours)
    ac_w = state.pv_w - state.battery_w
    if ac_w > config.inverter_rate_max_w:
        excess = ac_w - config.inverter_rate_max_w
        if state.battery_w < 0:
            state.battery_w = min(0.0, state.battery_w + excess)
        state.pv_w = max(
            0.0, min(state.pv_w, state.battery_w + config.inverter_rate_max_w)
        )
    elif ac_w < -config.inverter_rate_max_w:
        state.battery_w = state.pv_w + config.inverter_rate_max_w
    state.grid_w = state.pv_w - state.battery_w - state.load_w
    _apply_export_limit(state)

    if state.battery_w >= 0:
        stored_wh = state.battery_w * hours * _BATTERY_EFFICIENCY
    else:
        stored_wh = state.battery_w * hours / _BATTERY_EFFICIENCY
    state.soc = min(
        100.0, max(0.0, state.soc + 100.0 * stored_wh / config.battery_capacity_wh)
    )

    _count_energy(state, now, hours)
    _settle_temperatures(state, seconds, rng if noise else None)


def _battery_power(state: InverterState, hours: float) -> float:
    """Choose the battery power for this step from the control settings."""
    config = state.config
    control = state.control
    charge_limit = float(min(control.charge_rate_w, config.battery_rate_max_w))
    discharge_limit = float(min(control.discharge_rate_w, config.battery_rate_max_w))
    # Power that would reach the target or the reserve exactly within this step.
    room_to_target = _power_to_reach(state, control.target_soc, hours)
    room_to_full = _power_to_reach(state, 100, hours)
    room_to_reserve = _power_to_reach(state, control.reserve_soc, hours)

    # NOTE: a real inverter charges or discharges on timer only inside the
    # charge or discharge slot; this model ignores the slot times.
    if control.charge_enabled:
        return max(0.0, min(charge_limit, room_to_target))
    if control.discharge_enabled:
        return min(0.0, max(-discharge_limit, room_to_reserve))
    surplus = state.pv_w - state.load_w
    if surplus >= 0:
        return max(0.0, min(surplus, charge_limit, room_to_full))
    return min(0.0, max(surplus, -discharge_limit, room_to_reserve))


def _power_to_reach(state: InverterState, soc: float, hours: float) -> float:
    """Battery power in W that moves the SOC to soc in hours (signed)."""
    if hours <= 0:
        return 0.0
    energy_wh = (soc - state.soc) / 100.0 * state.config.battery_capacity_wh
    if energy_wh >= 0:
        return energy_wh / _BATTERY_EFFICIENCY / hours
    return energy_wh * _BATTERY_EFFICIENCY / hours


def _apply_export_limit(state: InverterState) -> None:
    limit = state.config.export_limit_w
    if limit == 0:
        return
    allowed = 0.0 if limit == 1 else float(limit)
    excess = state.grid_w - allowed
    if excess <= 0:
        return
    curtailed = min(excess, state.pv_w)
    state.pv_w -= curtailed
    excess -= curtailed
    if excess > 0 and state.battery_w < 0:
        state.battery_w = min(0.0, state.battery_w + excess)
    state.grid_w = state.pv_w - state.battery_w - state.load_w


def _count_energy(state: InverterState, now: float, hours: float) -> None:
    today = _local_date(now)
    energy = state.energy
    if today != energy.day:
        state.energy = energy = EnergyToday(day=today)
    energy.pv += state.pv_w * hours
    energy.grid_import += max(0.0, -state.grid_w) * hours
    energy.grid_export += max(0.0, state.grid_w) * hours
    energy.battery_charge += max(0.0, state.battery_w) * hours
    energy.battery_discharge += max(0.0, -state.battery_w) * hours
    energy.consumption += state.load_w * hours
    state.discharged_since_start_wh += max(0.0, -state.battery_w) * hours


def solar_fraction(now: float) -> float:
    """Return PV output as a fraction of peak for wall-clock time now.

    A sine over the daylight hours of a UK-like latitude: about 16.5 h of
    daylight and full peak at midsummer, 7.5 h and 45 % of peak at midwinter,
    centred on 12:30 local time. Clouds are applied separately.
    """
    local = datetime.datetime.fromtimestamp(now)
    day_of_year = local.timetuple().tm_yday
    season = math.cos(2.0 * math.pi * (day_of_year - 172) / 365.0)
    daylight_hours = 12.0 + 4.5 * season
    sunrise = 12.5 - daylight_hours / 2.0
    hour = local.hour + local.minute / 60.0 + local.second / 3600.0
    position = (hour - sunrise) / daylight_hours
    if not 0.0 < position < 1.0:
        return 0.0
    amplitude = 0.725 + 0.275 * season
    return amplitude * float(math.sin(math.pi * position) ** 1.3)


def _mean_load(config: InverterConfig, now: float) -> float:
    hour = datetime.datetime.fromtimestamp(now).hour
    if 17 <= hour < 21:
        return config.base_load_w * 2.0
    if 0 <= hour < 6:
        return config.base_load_w * 0.6
    return config.base_load_w


def _next_load(
    state: InverterState, now: float, seconds: float, rng: random.Random
) -> float:
    """Return a load that wanders around the time-of-day mean, with short appliance spikes."""
    mean = _mean_load(state.config, now)
    reversion = min(1.0, seconds / 120.0)
    load = state.load_w + (mean - state.load_w) * reversion
    load += rng.gauss(0.0, 40.0 * math.sqrt(max(seconds, 0.0)))
    # A kettle or oven switching on: about once an hour on average.
    if rng.random() < seconds / _SECONDS_PER_HOUR:
        load += rng.uniform(1500.0, 2800.0)
    return min(_MAX_LOAD_W, max(_MIN_LOAD_W, load))


def _wander_environment(
    state: InverterState, seconds: float, rng: random.Random
) -> None:
    scale = math.sqrt(max(seconds, 0.0))
    state.cloud_factor = min(
        1.0, max(0.3, state.cloud_factor + rng.gauss(0.0, 0.01 * scale))
    )
    state.grid_voltage_v = min(
        250.0,
        max(230.0, state.grid_voltage_v + rng.gauss(0.0, 0.3 * scale)),
    )
    state.grid_frequency_hz = min(
        _NOMINAL_FREQUENCY + 0.1,
        max(
            _NOMINAL_FREQUENCY - 0.1,
            state.grid_frequency_hz + rng.gauss(0.0, 0.005 * scale),
        ),
    )


def _settle_temperatures(
    state: InverterState, seconds: float, rng: random.Random | None
) -> None:
    """Move temperatures towards a level set by the power flowing, plus a little noise."""
    factor = min(1.0, seconds / 600.0)
    battery_target = 18.0 + abs(state.battery_w) / 600.0
    inverter_target = 28.0 + abs(state.pv_w - state.battery_w) / 250.0
    state.battery_temperature_c += (
        battery_target - state.battery_temperature_c
    ) * factor
    state.inverter_temperature_c += (
        inverter_target - state.inverter_temperature_c
    ) * factor
    if rng is not None:
        state.battery_temperature_c += rng.gauss(0.0, 0.05)
        state.inverter_temperature_c += rng.gauss(0.0, 0.1)


def _advance_ev_charger(
    charger: EvChargerState, seconds: float, rng: random.Random
) -> None:
    charger.voltage_v = min(250.0, max(220.0, charger.voltage_v + rng.gauss(0.0, 0.5)))
    if charger.session_active:
        charger.session_seconds += seconds
        charger.session_energy_wh += (
            ev_charger_power_w(charger) * seconds / _SECONDS_PER_HOUR
        )


def ev_charger_power_w(charger: EvChargerState) -> float:
    """Return the charging power of an EV charger on a single phase."""
    if not charger.session_active:
        return 0.0
    return charger.current_limit_a * charger.voltage_v


def _estimate_energy_today(
    config: InverterConfig, now: float, rng: random.Random
) -> EnergyToday:
    """Run the model without noise from local midnight to now and return its counters."""
    local_now = datetime.datetime.fromtimestamp(now)
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    control = ControlSettings(
        charge_rate_w=config.battery_rate_max_w,
        discharge_rate_w=config.battery_rate_max_w,
    )
    scratch = InverterState(
        config=config,
        control=control,
        soc=config.initial_soc,
        energy=EnergyToday(day=local_now.date()),
        load_w=config.base_load_w,
    )
    moment = midnight
    while moment < now:
        step = min(_PREROLL_STEP_SECONDS, now - moment)
        moment += step
        _advance_inverter(scratch, moment, step, rng, noise=False)
    return scratch.energy


def _local_date(now: float) -> datetime.date:
    return datetime.datetime.fromtimestamp(now).date()


def build_status(
    info: GatewayInfo,
    inverters: list[InverterState],
    chargers: list[EvChargerState],
    now: float,
    rng: random.Random,
) -> predbat_pb2.GatewayStatus:
    """Encode the model as the ``GatewayStatus`` a gateway would publish at time now."""
    info.wifi_rssi_dbm = min(
        -35.0, max(-85.0, info.wifi_rssi_dbm + rng.gauss(0.0, 1.0))
    )
    info.free_heap_bytes = min(
        170_000.0, max(120_000.0, info.free_heap_bytes + rng.gauss(0.0, 800.0))
    )
    free_heap = int(info.free_heap_bytes)
    status = predbat_pb2.GatewayStatus(
        device_id=info.device_id,
        dongle_count=sum(1 for state in inverters if not state.config.is_ems),
        firmware=info.firmware,
        timestamp=int(now),
        schema_version=SCHEMA_VERSION,
        uptime_seconds=max(0, int(now - info.started_at)),
        wifi_rssi_dbm=round(info.wifi_rssi_dbm),
        free_heap_bytes=free_heap,
        log_level=info.log_level,
        wifi_ip=info.wifi_ip,
        ev_control=bool(chargers),
        wifi_ssid=info.wifi_ssid,
        heap_internal_free=free_heap * 2 // 5,
        heap_internal_largest=free_heap // 5,
        heap_internal_min_free=free_heap * 3 // 10,
    )
    plain = [state for state in inverters if not state.config.is_ems]
    for state in inverters:
        if state.config.is_ems:
            status.inverters.append(_ems_entry(state, plain))
        else:
            status.inverters.append(_inverter_entry(state))
    for charger in chargers:
        status.ev_chargers.append(_ev_charger_entry(charger))
    return status


def _inverter_entry(state: InverterState) -> predbat_pb2.InverterEntry:
    config = state.config
    battery_voltage = 49.0 + 0.06 * state.soc + state.battery_w * 0.0002
    cycle_count = state.cycle_count_at_start + int(
        state.discharged_since_start_wh / config.battery_capacity_wh
    )

    entry = _entry_header(state)
    entry.battery.CopyFrom(
        predbat_pb2.BatteryStatus(
            soc_percent=round(state.soc),
            voltage_v=round(battery_voltage, 1),
            current_a=round(state.battery_w / battery_voltage, 1),
            power_w=round(state.battery_w),
            temperature_c=round(state.battery_temperature_c, 1),
            soh_percent=97,
            cycle_count=cycle_count,
            capacity_wh=config.battery_capacity_wh,
            rate_max_w=config.battery_rate_max_w,
            depth_of_discharge_pct=95,
        )
    )

    entry.pv.power_w = round(state.pv_w)
    entry.load.power_w = round(state.load_w)
    entry.grid.CopyFrom(_grid_status(state, state.grid_w))
    entry.inverter.CopyFrom(
        predbat_pb2.InverterData(
            active_power_w=round(state.pv_w - state.battery_w),
            temperature_c=round(state.inverter_temperature_c, 1),
            rate_max_w=config.inverter_rate_max_w,
        )
    )

    energy = state.energy
    entry.energy.CopyFrom(
        predbat_pb2.EnergyCounters(
            pv_today_wh=int(energy.pv),
            grid_import_today_wh=int(energy.grid_import),
            grid_export_today_wh=int(energy.grid_export),
            battery_charge_today_wh=int(energy.battery_charge),
            battery_discharge_today_wh=int(energy.battery_discharge),
            consumption_today_wh=int(energy.consumption),
        )
    )
    return entry


def _ems_entry(
    state: InverterState, members: list[InverterState]
) -> predbat_pb2.InverterEntry:
    """Build an EMS entry from the totals of the inverters it manages."""
    total_capacity = sum(member.config.battery_capacity_wh for member in members)
    stored_wh = sum(
        member.soc / 100.0 * member.config.battery_capacity_wh for member in members
    )
    total_soc = round(100.0 * stored_wh / total_capacity) if total_capacity else 0
    total_battery = sum(member.battery_w for member in members)
    total_grid = sum(member.grid_w for member in members)
    total_pv = sum(member.pv_w for member in members)
    total_load = sum(member.load_w for member in members)

    entry = _entry_header(state)
    entry.battery.soc_percent = total_soc
    entry.battery.power_w = round(total_battery)
    entry.battery.capacity_wh = total_capacity
    entry.pv.power_w = round(total_pv)
    entry.load.power_w = round(total_load)
    entry.grid.CopyFrom(_grid_status(members[0] if members else state, total_grid))
    ems = entry.ems
    ems.num_inverters = len(members)
    ems.total_soc = total_soc
    ems.total_charge_w = round(sum(max(0.0, member.battery_w) for member in members))
    ems.total_discharge_w = round(
        sum(max(0.0, -member.battery_w) for member in members)
    )
    ems.total_grid_w = round(total_grid)
    ems.total_pv_w = round(total_pv)
    ems.total_load_w = round(total_load)
    for member in members:
        ems.sub_inverters.append(
            predbat_pb2.EmsSubInverter(
                soc=round(member.soc),
                battery_w=round(member.battery_w),
                pv_w=round(member.pv_w),
                grid_w=round(member.grid_w),
                temp_c=round(member.inverter_temperature_c, 1),
            )
        )
    return entry


def _entry_header(state: InverterState) -> predbat_pb2.InverterEntry:
    """Build the identity, control and schedule parts shared by every entry type."""
    config = state.config
    control = state.control
    return predbat_pb2.InverterEntry(
        type=config.inverter_type,
        serial=config.serial,
        ip=config.ip,
        connected=True,
        active=True,
        managed=not control.read_only,
        primary=config.primary,
        dongle_serial=config.dongle_serial,
        model=config.model,
        control=predbat_pb2.ControlStatus(
            charge_enabled=control.charge_enabled,
            discharge_enabled=control.discharge_enabled,
            charge_rate_w=control.charge_rate_w,
            discharge_rate_w=control.discharge_rate_w,
            reserve_soc=control.reserve_soc,
            target_soc=control.target_soc,
            force_power_w=0,
            command_expires=0,
            export_limit_w=config.export_limit_w,
        ),
        schedule=predbat_pb2.ScheduleStatus(
            charge_start=control.charge_start,
            charge_end=control.charge_end,
            discharge_start=control.discharge_start,
            discharge_end=control.discharge_end,
        ),
    )


def _grid_status(state: InverterState, power_w: float) -> predbat_pb2.GridStatus:
    return predbat_pb2.GridStatus(
        power_w=round(power_w),
        voltage_v=round(state.grid_voltage_v, 1),
        frequency_hz=round(state.grid_frequency_hz, 2),
    )


def _ev_charger_entry(charger: EvChargerState) -> predbat_pb2.EvCharger:
    if charger.session_active:
        ocpp_status = "Charging"
    elif charger.connected:
        ocpp_status = "Preparing"
    else:
        ocpp_status = "Available"
    return predbat_pb2.EvCharger(
        connected=charger.connected,
        session_active=charger.session_active,
        status=ocpp_status,
        power_w=round(ev_charger_power_w(charger)),
        session_energy_wh=int(charger.session_energy_wh),
        session_secs=int(charger.session_seconds),
        current_limit_a=charger.current_limit_a,
        soc_percent=0,
        charge_point_id=charger.config.charge_point_id,
        max_current_a=charger.config.max_current_a,
        voltage_v=round(charger.voltage_v),
        eco_mode="off",
    )
