"""Durable storage of a rotated refresh credential.

A token service that rotates credentials kills the old one as soon as it
returns the new one. Config entry changes reach the disk after a delay, so
the new credential is first written to this store, which saves at once.
The entry is updated after that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import CONF_REFRESH_TOKEN, DOMAIN

if TYPE_CHECKING:
    from . import PredbatGatewayConfigEntry

STORAGE_VERSION = 1


class _StoredCredential(TypedDict):
    refresh_token: str


class CredentialStore:
    """The newest refresh credential of one config entry."""

    def __init__(self, hass: HomeAssistant, entry: PredbatGatewayConfigEntry) -> None:
        """Use a private store named after the entry."""
        self._hass = hass
        self._entry = entry
        self._store: Store[_StoredCredential] = credential_store(hass, entry.entry_id)

    async def async_load(self) -> str | None:
        """Return the stored credential, falling back to the entry's."""
        stored = await self._store.async_load()
        if stored is not None and stored.get("refresh_token"):
            return stored["refresh_token"]
        refresh_token: str | None = self._entry.data.get(CONF_REFRESH_TOKEN)
        return refresh_token

    async def async_save(self, refresh_token: str) -> None:
        """Write the credential to disk now, then into the config entry."""
        await self._store.async_save({"refresh_token": refresh_token})
        self._hass.config_entries.async_update_entry(
            self._entry, data={**self._entry.data, CONF_REFRESH_TOKEN: refresh_token}
        )


def credential_store(hass: HomeAssistant, entry_id: str) -> Store[_StoredCredential]:
    """Return the store of one entry (also used to remove it on reauth and removal)."""
    return Store(
        hass,
        STORAGE_VERSION,
        f"{DOMAIN}.{entry_id}.credential",
        private=True,
        atomic_writes=True,
    )
