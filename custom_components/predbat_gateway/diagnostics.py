"""Diagnostics for a gateway: settings without secrets, session state and telemetry."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from . import PredbatGatewayConfigEntry
from .const import (
    CONF_ACCESS_TOKEN,
    CONF_CA_CERTIFICATE,
    CONF_REFRESH_TOKEN,
    CONF_TOKEN_URL,
)

TO_REDACT = {
    CONF_ACCESS_TOKEN,
    CONF_REFRESH_TOKEN,
    CONF_TOKEN_URL,
    CONF_CA_CERTIFICATE,
    "ip",
    "wifi_ssid",
}


def _with_lists(value: Any) -> Any:
    """Return `value` with every tuple turned into a list, at any depth.

    async_redact_data looks inside dicts and lists only, and the telemetry
    keeps its inverters in a tuple.
    """
    if isinstance(value, dict):
        return {key: _with_lists(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_with_lists(item) for item in value]
    return value


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: PredbatGatewayConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    coordinator = entry.runtime_data
    token = coordinator.tokens.token
    status = coordinator.data.status
    received_at = coordinator.data.received_at
    return {
        "entry": async_redact_data(dict(entry.data), TO_REDACT),
        "session": {
            "connected": coordinator.connected,
            "mqtt_version": coordinator.mqtt_version,
            "gateway_online": coordinator.data.online,
            "available": coordinator.gateway_available,
            "auth_failed": coordinator.auth_failed,
            "connect_count": coordinator.connect_count,
            "token_renewals": coordinator.tokens.renewal_count,
            "token_seconds_left": round(token.seconds_left(), 1)
            if token is not None
            else None,
            "token_lifetime_seconds": round(token.lifetime, 1)
            if token is not None
            else None,
            "telemetry_age_seconds": (
                round(time.monotonic() - received_at, 1)
                if received_at is not None
                else None
            ),
        },
        "status": async_redact_data(_with_lists(dataclasses.asdict(status)), TO_REDACT)
        if status is not None
        else None,
    }
