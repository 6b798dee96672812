"""The Predbat gateway integration."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .const import (
    CONF_ACCESS_TOKEN,
    CONF_CA_CERTIFICATE,
    CONF_DEVICE_ID,
    CONF_TOKEN_URL,
    CONF_USE_TLS,
    CONF_VERIFY_CERTIFICATE,
    DOMAIN,
)
from .coordinator import PredbatGatewayCoordinator
from .credentials import CredentialStore, credential_store
from .protocol.errors import TokenError
from .protocol.mqtt import BrokerSettings, build_ssl_context
from .protocol.tokens import AccessToken, TokenClient, TokenManager

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.NUMBER,
    Platform.SENSOR,
    Platform.SWITCH,
    Platform.TIME,
]

type PredbatGatewayConfigEntry = ConfigEntry[PredbatGatewayCoordinator]


async def async_build_broker_settings(
    hass: HomeAssistant, data: dict[str, object]
) -> BrokerSettings:
    """Return the broker settings of an entry, building the TLS context in the executor."""
    ssl_context = None
    if data.get(CONF_USE_TLS, True):
        ca_certificate = str(data.get(CONF_CA_CERTIFICATE) or "").strip() or None
        ssl_context = await hass.async_add_executor_job(
            lambda: build_ssl_context(
                verify=bool(data.get(CONF_VERIFY_CERTIFICATE, True)),
                ca_certificate=str(ca_certificate) if ca_certificate else None,
            )
        )
    return BrokerSettings(
        host=str(data[CONF_HOST]),
        port=int(str(data[CONF_PORT])),
        ssl_context=ssl_context,
    )


async def async_setup_entry(
    hass: HomeAssistant, entry: PredbatGatewayConfigEntry
) -> bool:
    """Connect to the gateway's broker and set up its entities."""
    broker = await async_build_broker_settings(hass, dict(entry.data))
    credentials = CredentialStore(hass, entry)

    client: TokenClient | None = None
    refresh_token: str | None = None
    access_token: AccessToken | None = None
    if entry.data.get(CONF_TOKEN_URL):
        client = TokenClient(
            async_get_clientsession(hass), str(entry.data[CONF_TOKEN_URL])
        )
        refresh_token = await credentials.async_load()
    elif pasted := entry.data.get(CONF_ACCESS_TOKEN):
        try:
            access_token = AccessToken.from_jwt(str(pasted))
        except TokenError:
            access_token = None

    coordinator = PredbatGatewayCoordinator(
        hass,
        entry,
        device_id=str(entry.data[CONF_DEVICE_ID]),
        broker=broker,
        tokens=TokenManager(
            client, refresh_token, access_token, credentials.async_save
        ),
    )
    entry.async_on_unload(coordinator.async_shutdown)
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(
    hass: HomeAssistant, entry: PredbatGatewayConfigEntry
) -> bool:
    """Unload the entities; the session closes through the coordinator's shutdown."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_config_entry_device(
    hass: HomeAssistant,
    entry: PredbatGatewayConfigEntry,
    device_entry: dr.AnyDeviceEntry,
) -> bool:
    """Return whether the user may delete this device of the entry.

    The gateway's own device stays as long as the entry exists. An inverter's
    device may go only while the latest status leaves its serial out, because
    a serial that is still reported would get its device back with the next
    status. While the entry is not loaded there is no telemetry, so every
    inverter's device may go.
    """
    identifiers = {
        identifier
        for domain, identifier in device_entry.identifiers
        if domain == DOMAIN
    }
    if str(entry.data[CONF_DEVICE_ID]) in identifiers:
        return False
    if entry.state is not ConfigEntryState.LOADED:
        return True
    return identifiers.isdisjoint(entry.runtime_data.data.inverters)


async def async_remove_entry(
    hass: HomeAssistant, entry: PredbatGatewayConfigEntry
) -> None:
    """Delete the stored refresh credential with the entry."""
    await credential_store(hass, entry.entry_id).async_remove()
