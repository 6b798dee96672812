"""Constants for the Predbat gateway integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "predbat_gateway"
LOGGER = logging.getLogger(__package__)

CONF_DEVICE_ID: Final = "device_id"
CONF_USE_TLS: Final = "use_tls"
CONF_VERIFY_CERTIFICATE: Final = "verify_certificate"
CONF_CA_CERTIFICATE: Final = "ca_certificate"
CONF_AUTH_METHOD: Final = "auth_method"
CONF_TOKEN_URL: Final = "token_url"
CONF_REFRESH_TOKEN: Final = "refresh_token"
CONF_ACCESS_TOKEN: Final = "access_token"

AUTH_TOKEN_SERVICE: Final = "token_service"
AUTH_ACCESS_TOKEN: Final = "access_token"

DEFAULT_PORT: Final = 8883

MANUFACTURER: Final = "Predbat"

# Telemetry older than this marks the gateway's entities unavailable. The
# firmware publishes every few seconds, so two minutes is many missed messages.
STALE_AFTER_SECONDS: Final = 120.0

# How long a command waits for the broker's PUBACK before the action fails.
COMMAND_ACK_TIMEOUT: Final = 5.0
