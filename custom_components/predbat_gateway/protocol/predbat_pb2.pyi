from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InverterType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVERTER_TYPE_UNKNOWN: _ClassVar[InverterType]
    INVERTER_TYPE_SOLIS_HYBRID: _ClassVar[InverterType]
    INVERTER_TYPE_SOLIS_AC: _ClassVar[InverterType]
    INVERTER_TYPE_SOFAR_G3: _ClassVar[InverterType]
    INVERTER_TYPE_GROWATT_SPH: _ClassVar[InverterType]
    INVERTER_TYPE_DEYE_SUNSYNK: _ClassVar[InverterType]
    INVERTER_TYPE_GIVENERGY: _ClassVar[InverterType]
    INVERTER_TYPE_GIVENERGY_EMS: _ClassVar[InverterType]
    INVERTER_TYPE_GIVENERGY_GATEWAY: _ClassVar[InverterType]
    INVERTER_TYPE_ALPHA_ESS: _ClassVar[InverterType]
    INVERTER_TYPE_DEMO: _ClassVar[InverterType]
    INVERTER_TYPE_CUSTOM: _ClassVar[InverterType]
INVERTER_TYPE_UNKNOWN: InverterType
INVERTER_TYPE_SOLIS_HYBRID: InverterType
INVERTER_TYPE_SOLIS_AC: InverterType
INVERTER_TYPE_SOFAR_G3: InverterType
INVERTER_TYPE_GROWATT_SPH: InverterType
INVERTER_TYPE_DEYE_SUNSYNK: InverterType
INVERTER_TYPE_GIVENERGY: InverterType
INVERTER_TYPE_GIVENERGY_EMS: InverterType
INVERTER_TYPE_GIVENERGY_GATEWAY: InverterType
INVERTER_TYPE_ALPHA_ESS: InverterType
INVERTER_TYPE_DEMO: InverterType
INVERTER_TYPE_CUSTOM: InverterType

class GatewayStatus(_message.Message):
    __slots__ = ("device_id", "dongle_count", "firmware", "timestamp", "schema_version", "inverters", "uptime_seconds", "wifi_rssi_dbm", "free_heap_bytes", "log_level", "wifi_ip", "ev_control", "ev_chargers", "wifi_ssid", "heap_internal_free", "heap_internal_largest", "heap_internal_min_free")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    DONGLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRMWARE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    INVERTERS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    WIFI_RSSI_DBM_FIELD_NUMBER: _ClassVar[int]
    FREE_HEAP_BYTES_FIELD_NUMBER: _ClassVar[int]
    LOG_LEVEL_FIELD_NUMBER: _ClassVar[int]
    WIFI_IP_FIELD_NUMBER: _ClassVar[int]
    EV_CONTROL_FIELD_NUMBER: _ClassVar[int]
    EV_CHARGERS_FIELD_NUMBER: _ClassVar[int]
    WIFI_SSID_FIELD_NUMBER: _ClassVar[int]
    HEAP_INTERNAL_FREE_FIELD_NUMBER: _ClassVar[int]
    HEAP_INTERNAL_LARGEST_FIELD_NUMBER: _ClassVar[int]
    HEAP_INTERNAL_MIN_FREE_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    dongle_count: int
    firmware: str
    timestamp: int
    schema_version: int
    inverters: _containers.RepeatedCompositeFieldContainer[InverterEntry]
    uptime_seconds: int
    wifi_rssi_dbm: int
    free_heap_bytes: int
    log_level: int
    wifi_ip: str
    ev_control: bool
    ev_chargers: _containers.RepeatedCompositeFieldContainer[EvCharger]
    wifi_ssid: str
    heap_internal_free: int
    heap_internal_largest: int
    heap_internal_min_free: int
    def __init__(self, device_id: _Optional[str] = ..., dongle_count: _Optional[int] = ..., firmware: _Optional[str] = ..., timestamp: _Optional[int] = ..., schema_version: _Optional[int] = ..., inverters: _Optional[_Iterable[_Union[InverterEntry, _Mapping]]] = ..., uptime_seconds: _Optional[int] = ..., wifi_rssi_dbm: _Optional[int] = ..., free_heap_bytes: _Optional[int] = ..., log_level: _Optional[int] = ..., wifi_ip: _Optional[str] = ..., ev_control: _Optional[bool] = ..., ev_chargers: _Optional[_Iterable[_Union[EvCharger, _Mapping]]] = ..., wifi_ssid: _Optional[str] = ..., heap_internal_free: _Optional[int] = ..., heap_internal_largest: _Optional[int] = ..., heap_internal_min_free: _Optional[int] = ...) -> None: ...

class InverterEntry(_message.Message):
    __slots__ = ("type", "serial", "ip", "connected", "active", "battery", "pv", "grid", "load", "inverter", "control", "schedule", "ems", "energy", "managed", "primary", "dongle_serial", "model")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    BATTERY_FIELD_NUMBER: _ClassVar[int]
    PV_FIELD_NUMBER: _ClassVar[int]
    GRID_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    INVERTER_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    EMS_FIELD_NUMBER: _ClassVar[int]
    ENERGY_FIELD_NUMBER: _ClassVar[int]
    MANAGED_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    DONGLE_SERIAL_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    type: InverterType
    serial: str
    ip: str
    connected: bool
    active: bool
    battery: BatteryStatus
    pv: PvStatus
    grid: GridStatus
    load: LoadStatus
    inverter: InverterData
    control: ControlStatus
    schedule: ScheduleStatus
    ems: EmsStatus
    energy: EnergyCounters
    managed: bool
    primary: bool
    dongle_serial: str
    model: str
    def __init__(self, type: _Optional[_Union[InverterType, str]] = ..., serial: _Optional[str] = ..., ip: _Optional[str] = ..., connected: _Optional[bool] = ..., active: _Optional[bool] = ..., battery: _Optional[_Union[BatteryStatus, _Mapping]] = ..., pv: _Optional[_Union[PvStatus, _Mapping]] = ..., grid: _Optional[_Union[GridStatus, _Mapping]] = ..., load: _Optional[_Union[LoadStatus, _Mapping]] = ..., inverter: _Optional[_Union[InverterData, _Mapping]] = ..., control: _Optional[_Union[ControlStatus, _Mapping]] = ..., schedule: _Optional[_Union[ScheduleStatus, _Mapping]] = ..., ems: _Optional[_Union[EmsStatus, _Mapping]] = ..., energy: _Optional[_Union[EnergyCounters, _Mapping]] = ..., managed: _Optional[bool] = ..., primary: _Optional[bool] = ..., dongle_serial: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class BatteryStatus(_message.Message):
    __slots__ = ("soc_percent", "voltage_v", "current_a", "power_w", "temperature_c", "soh_percent", "cycle_count", "capacity_wh", "rate_max_w", "depth_of_discharge_pct")
    SOC_PERCENT_FIELD_NUMBER: _ClassVar[int]
    VOLTAGE_V_FIELD_NUMBER: _ClassVar[int]
    CURRENT_A_FIELD_NUMBER: _ClassVar[int]
    POWER_W_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_C_FIELD_NUMBER: _ClassVar[int]
    SOH_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CYCLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_WH_FIELD_NUMBER: _ClassVar[int]
    RATE_MAX_W_FIELD_NUMBER: _ClassVar[int]
    DEPTH_OF_DISCHARGE_PCT_FIELD_NUMBER: _ClassVar[int]
    soc_percent: int
    voltage_v: float
    current_a: float
    power_w: int
    temperature_c: float
    soh_percent: int
    cycle_count: int
    capacity_wh: int
    rate_max_w: int
    depth_of_discharge_pct: int
    def __init__(self, soc_percent: _Optional[int] = ..., voltage_v: _Optional[float] = ..., current_a: _Optional[float] = ..., power_w: _Optional[int] = ..., temperature_c: _Optional[float] = ..., soh_percent: _Optional[int] = ..., cycle_count: _Optional[int] = ..., capacity_wh: _Optional[int] = ..., rate_max_w: _Optional[int] = ..., depth_of_discharge_pct: _Optional[int] = ...) -> None: ...

class PvStatus(_message.Message):
    __slots__ = ("power_w",)
    POWER_W_FIELD_NUMBER: _ClassVar[int]
    power_w: int
    def __init__(self, power_w: _Optional[int] = ...) -> None: ...

class GridStatus(_message.Message):
    __slots__ = ("power_w", "voltage_v", "frequency_hz")
    POWER_W_FIELD_NUMBER: _ClassVar[int]
    VOLTAGE_V_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_HZ_FIELD_NUMBER: _ClassVar[int]
    power_w: int
    voltage_v: float
    frequency_hz: float
    def __init__(self, power_w: _Optional[int] = ..., voltage_v: _Optional[float] = ..., frequency_hz: _Optional[float] = ...) -> None: ...

class LoadStatus(_message.Message):
    __slots__ = ("power_w",)
    POWER_W_FIELD_NUMBER: _ClassVar[int]
    power_w: int
    def __init__(self, power_w: _Optional[int] = ...) -> None: ...

class InverterData(_message.Message):
    __slots__ = ("active_power_w", "temperature_c", "rate_max_w")
    ACTIVE_POWER_W_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_C_FIELD_NUMBER: _ClassVar[int]
    RATE_MAX_W_FIELD_NUMBER: _ClassVar[int]
    active_power_w: int
    temperature_c: float
    rate_max_w: int
    def __init__(self, active_power_w: _Optional[int] = ..., temperature_c: _Optional[float] = ..., rate_max_w: _Optional[int] = ...) -> None: ...

class ControlStatus(_message.Message):
    __slots__ = ("charge_enabled", "discharge_enabled", "charge_rate_w", "discharge_rate_w", "reserve_soc", "target_soc", "force_power_w", "command_expires", "export_limit_w")
    CHARGE_ENABLED_FIELD_NUMBER: _ClassVar[int]
    DISCHARGE_ENABLED_FIELD_NUMBER: _ClassVar[int]
    CHARGE_RATE_W_FIELD_NUMBER: _ClassVar[int]
    DISCHARGE_RATE_W_FIELD_NUMBER: _ClassVar[int]
    RESERVE_SOC_FIELD_NUMBER: _ClassVar[int]
    TARGET_SOC_FIELD_NUMBER: _ClassVar[int]
    FORCE_POWER_W_FIELD_NUMBER: _ClassVar[int]
    COMMAND_EXPIRES_FIELD_NUMBER: _ClassVar[int]
    EXPORT_LIMIT_W_FIELD_NUMBER: _ClassVar[int]
    charge_enabled: bool
    discharge_enabled: bool
    charge_rate_w: int
    discharge_rate_w: int
    reserve_soc: int
    target_soc: int
    force_power_w: int
    command_expires: int
    export_limit_w: int
    def __init__(self, charge_enabled: _Optional[bool] = ..., discharge_enabled: _Optional[bool] = ..., charge_rate_w: _Optional[int] = ..., discharge_rate_w: _Optional[int] = ..., reserve_soc: _Optional[int] = ..., target_soc: _Optional[int] = ..., force_power_w: _Optional[int] = ..., command_expires: _Optional[int] = ..., export_limit_w: _Optional[int] = ...) -> None: ...

class ScheduleStatus(_message.Message):
    __slots__ = ("charge_start", "charge_end", "discharge_start", "discharge_end")
    CHARGE_START_FIELD_NUMBER: _ClassVar[int]
    CHARGE_END_FIELD_NUMBER: _ClassVar[int]
    DISCHARGE_START_FIELD_NUMBER: _ClassVar[int]
    DISCHARGE_END_FIELD_NUMBER: _ClassVar[int]
    charge_start: int
    charge_end: int
    discharge_start: int
    discharge_end: int
    def __init__(self, charge_start: _Optional[int] = ..., charge_end: _Optional[int] = ..., discharge_start: _Optional[int] = ..., discharge_end: _Optional[int] = ...) -> None: ...

class EmsSubInverter(_message.Message):
    __slots__ = ("soc", "battery_w", "pv_w", "grid_w", "temp_c")
    SOC_FIELD_NUMBER: _ClassVar[int]
    BATTERY_W_FIELD_NUMBER: _ClassVar[int]
    PV_W_FIELD_NUMBER: _ClassVar[int]
    GRID_W_FIELD_NUMBER: _ClassVar[int]
    TEMP_C_FIELD_NUMBER: _ClassVar[int]
    soc: int
    battery_w: int
    pv_w: int
    grid_w: int
    temp_c: float
    def __init__(self, soc: _Optional[int] = ..., battery_w: _Optional[int] = ..., pv_w: _Optional[int] = ..., grid_w: _Optional[int] = ..., temp_c: _Optional[float] = ...) -> None: ...

class EmsStatus(_message.Message):
    __slots__ = ("num_inverters", "total_soc", "total_charge_w", "total_discharge_w", "total_grid_w", "total_pv_w", "total_load_w", "sub_inverters")
    NUM_INVERTERS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SOC_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CHARGE_W_FIELD_NUMBER: _ClassVar[int]
    TOTAL_DISCHARGE_W_FIELD_NUMBER: _ClassVar[int]
    TOTAL_GRID_W_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PV_W_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LOAD_W_FIELD_NUMBER: _ClassVar[int]
    SUB_INVERTERS_FIELD_NUMBER: _ClassVar[int]
    num_inverters: int
    total_soc: int
    total_charge_w: int
    total_discharge_w: int
    total_grid_w: int
    total_pv_w: int
    total_load_w: int
    sub_inverters: _containers.RepeatedCompositeFieldContainer[EmsSubInverter]
    def __init__(self, num_inverters: _Optional[int] = ..., total_soc: _Optional[int] = ..., total_charge_w: _Optional[int] = ..., total_discharge_w: _Optional[int] = ..., total_grid_w: _Optional[int] = ..., total_pv_w: _Optional[int] = ..., total_load_w: _Optional[int] = ..., sub_inverters: _Optional[_Iterable[_Union[EmsSubInverter, _Mapping]]] = ...) -> None: ...

class EnergyCounters(_message.Message):
    __slots__ = ("pv_today_wh", "grid_import_today_wh", "grid_export_today_wh", "battery_charge_today_wh", "battery_discharge_today_wh", "consumption_today_wh")
    PV_TODAY_WH_FIELD_NUMBER: _ClassVar[int]
    GRID_IMPORT_TODAY_WH_FIELD_NUMBER: _ClassVar[int]
    GRID_EXPORT_TODAY_WH_FIELD_NUMBER: _ClassVar[int]
    BATTERY_CHARGE_TODAY_WH_FIELD_NUMBER: _ClassVar[int]
    BATTERY_DISCHARGE_TODAY_WH_FIELD_NUMBER: _ClassVar[int]
    CONSUMPTION_TODAY_WH_FIELD_NUMBER: _ClassVar[int]
    pv_today_wh: int
    grid_import_today_wh: int
    grid_export_today_wh: int
    battery_charge_today_wh: int
    battery_discharge_today_wh: int
    consumption_today_wh: int
    def __init__(self, pv_today_wh: _Optional[int] = ..., grid_import_today_wh: _Optional[int] = ..., grid_export_today_wh: _Optional[int] = ..., battery_charge_today_wh: _Optional[int] = ..., battery_discharge_today_wh: _Optional[int] = ..., consumption_today_wh: _Optional[int] = ...) -> None: ...

class EvCharger(_message.Message):
    __slots__ = ("connected", "session_active", "status", "power_w", "session_energy_wh", "session_secs", "current_limit_a", "soc_percent", "charge_point_id", "max_current_a", "voltage_v", "eco_mode")
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    SESSION_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    POWER_W_FIELD_NUMBER: _ClassVar[int]
    SESSION_ENERGY_WH_FIELD_NUMBER: _ClassVar[int]
    SESSION_SECS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_LIMIT_A_FIELD_NUMBER: _ClassVar[int]
    SOC_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CHARGE_POINT_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_CURRENT_A_FIELD_NUMBER: _ClassVar[int]
    VOLTAGE_V_FIELD_NUMBER: _ClassVar[int]
    ECO_MODE_FIELD_NUMBER: _ClassVar[int]
    connected: bool
    session_active: bool
    status: str
    power_w: int
    session_energy_wh: int
    session_secs: int
    current_limit_a: int
    soc_percent: int
    charge_point_id: str
    max_current_a: int
    voltage_v: int
    eco_mode: str
    def __init__(self, connected: _Optional[bool] = ..., session_active: _Optional[bool] = ..., status: _Optional[str] = ..., power_w: _Optional[int] = ..., session_energy_wh: _Optional[int] = ..., session_secs: _Optional[int] = ..., current_limit_a: _Optional[int] = ..., soc_percent: _Optional[int] = ..., charge_point_id: _Optional[str] = ..., max_current_a: _Optional[int] = ..., voltage_v: _Optional[int] = ..., eco_mode: _Optional[str] = ...) -> None: ...

class PlanEntry(_message.Message):
    __slots__ = ("enabled", "start_hour", "start_minute", "end_hour", "end_minute", "mode", "power_w", "target_soc", "days_of_week", "use_native")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    START_HOUR_FIELD_NUMBER: _ClassVar[int]
    START_MINUTE_FIELD_NUMBER: _ClassVar[int]
    END_HOUR_FIELD_NUMBER: _ClassVar[int]
    END_MINUTE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    POWER_W_FIELD_NUMBER: _ClassVar[int]
    TARGET_SOC_FIELD_NUMBER: _ClassVar[int]
    DAYS_OF_WEEK_FIELD_NUMBER: _ClassVar[int]
    USE_NATIVE_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    start_hour: int
    start_minute: int
    end_hour: int
    end_minute: int
    mode: int
    power_w: int
    target_soc: int
    days_of_week: int
    use_native: bool
    def __init__(self, enabled: _Optional[bool] = ..., start_hour: _Optional[int] = ..., start_minute: _Optional[int] = ..., end_hour: _Optional[int] = ..., end_minute: _Optional[int] = ..., mode: _Optional[int] = ..., power_w: _Optional[int] = ..., target_soc: _Optional[int] = ..., days_of_week: _Optional[int] = ..., use_native: _Optional[bool] = ...) -> None: ...

class ExecutionPlan(_message.Message):
    __slots__ = ("timestamp", "plan_version", "timezone", "entries")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    timestamp: int
    plan_version: int
    timezone: str
    entries: _containers.RepeatedCompositeFieldContainer[PlanEntry]
    def __init__(self, timestamp: _Optional[int] = ..., plan_version: _Optional[int] = ..., timezone: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[PlanEntry, _Mapping]]] = ...) -> None: ...
