"""Coordinator that owns the gateway session and its access-token lifecycle.

Telemetry is pushed, so the coordinator never polls: the MQTT connection calls
`async_set_updated_data` for every status. What it does own is the token:

- a planned renewal at a fixed fraction of the token's lifetime, followed by a
  new connection with the new token before the old one is closed, so the
  broker never drops a live session at `exp`;
- a connection rejected for its credentials (CONNACK 134/135) gets one
  fresh token and an immediate retry. A rejection of a token that was just
  issued, or a token service that rejects the credential, starts the reauth
  flow and stops all reconnecting;
- any other connection failure is retried with exponential backoff and
  jitter, with the current token, and no token request.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
import random
import secrets
import time
from typing import TYPE_CHECKING, Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryNotReady,
    HomeAssistantError,
    ServiceValidationError,
)
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from paho.mqtt.enums import MQTTProtocolVersion

from .const import COMMAND_ACK_TIMEOUT, DOMAIN, LOGGER, STALE_AFTER_SECONDS
from .protocol.commands import Command, CommandIds
from .protocol.errors import (
    CommandError,
    CommandTimeout,
    ConnectionFailed,
    CredentialRejected,
    NotConnected,
    PayloadError,
    TokenError,
)
from .protocol.mqtt import BrokerSettings, MqttConnection
from .protocol.telemetry import GatewayStatus, InverterStatus, decode_status
from .protocol.tokens import MIN_USABLE_SECONDS, AccessToken, TokenManager
from .protocol.topics import (
    command_topic,
    gateway_subscriptions,
    online_topic,
    status_topic,
)

if TYPE_CHECKING:
    from . import PredbatGatewayConfigEntry

# The planned renewal starts when this fraction of the lifetime is left: 4.8 h
# of a 24 h token, leaving time to retry a token service that is down.
RENEW_MARGIN_FRACTION = 0.2

# Reconnect backoff after failures that a new token cannot fix.
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 300.0

# How long setup waits for the first status, so entities exist at once.
FIRST_STATUS_TIMEOUT = 10.0


class CredentialDead(Exception):
    """The refresh credential or the pasted token no longer works."""


@dataclass(slots=True)
class GatewayData:
    """Telemetry and presence the coordinator hands to entities."""

    status: GatewayStatus | None = None
    inverters: dict[str, InverterStatus] = field(default_factory=dict)
    online: bool | None = None
    # time.monotonic() of the last status with telemetry.
    received_at: float | None = None


def backoff_delay(attempt: int) -> float:
    """Return the wait before reconnect attempt `attempt` (0-based), with jitter."""
    base = min(BACKOFF_INITIAL * float(1 << min(attempt, 20)), BACKOFF_MAX)
    jitter: float = random.uniform(0.5, 1.0)
    return base * jitter


class PredbatGatewayCoordinator(DataUpdateCoordinator[GatewayData]):
    """One gateway: its MQTT session, its access token and its telemetry."""

    config_entry: PredbatGatewayConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: PredbatGatewayConfigEntry,
        *,
        device_id: str,
        broker: BrokerSettings,
        tokens: TokenManager,
    ) -> None:
        """Prepare the session; `async_config_entry_first_refresh` connects."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {device_id}",
            update_interval=None,
            always_update=True,
        )
        self.device_id = device_id
        self._broker = broker
        self.tokens = tokens
        self._connection: MqttConnection | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._renewal_task: asyncio.Task[None] | None = None
        self._renewal_timer: asyncio.TimerHandle | None = None
        self._stale_unsub: CALLBACK_TYPE | None = None
        self._first_status = asyncio.Event()
        self._command_ids = CommandIds(f"HA{secrets.token_hex(3)}-")
        self._logged_once: set[str] = set()
        self._was_available: bool | None = None
        self._outage_logged = False
        self._stopped = False
        self.auth_failed = False
        self.connect_count = 0
        self.data = GatewayData()

    # Set-up and tear-down.

    async def _async_setup(self) -> None:
        """Connect for the first time; failures decide how the entry set-up fails."""
        try:
            connection = await self._establish()
        except CredentialDead as err:
            self.auth_failed = True
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key="credential_rejected",
            ) from err
        except (ConnectionFailed, TokenError) as err:
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"error": str(err)},
            ) from err
        self._adopt(connection)
        self._stale_unsub = async_track_time_interval(
            self.hass,
            self._async_check_stale,
            timedelta(seconds=10),
            cancel_on_shutdown=True,
        )
        try:
            async with asyncio.timeout(FIRST_STATUS_TIMEOUT):
                await self._first_status.wait()
        except TimeoutError:
            LOGGER.info(
                "Gateway %s sent no status within %s s; its entities appear when it does",
                self.device_id,
                FIRST_STATUS_TIMEOUT,
            )

    async def _async_update_data(self) -> GatewayData:
        """Return the pushed data; there is nothing to poll."""
        return self.data

    async def async_shutdown(self) -> None:
        """Close the session and cancel every timer and task."""
        await super().async_shutdown()
        await self._async_stop()

    async def _async_stop(self) -> None:
        self._stopped = True
        if self._stale_unsub is not None:
            self._stale_unsub()
            self._stale_unsub = None
        if self._renewal_timer is not None:
            self._renewal_timer.cancel()
            self._renewal_timer = None
        for task in (self._reconnect_task, self._renewal_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._reconnect_task = None
        self._renewal_task = None
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()

    # Connecting.

    async def _renew(self) -> AccessToken:
        try:
            return await self.tokens.renew()
        except CredentialRejected as err:
            raise CredentialDead(str(err)) from err

    async def _establish(self) -> MqttConnection:
        """Open a connection, renewing the token first when needed.

        Raises CredentialDead when no working token can be had, and
        ConnectionFailed or TokenError for failures worth retrying later.
        """
        token = self.tokens.usable_token()
        fresh = False
        if token is None:
            token = await self._renew()
            fresh = True
        try:
            return await self._open(token)
        except ConnectionFailed as err:
            if not err.auth_refused:
                raise
            if fresh:
                raise CredentialDead(
                    "the broker rejected a token that was just issued"
                ) from err
            LOGGER.info(
                "Broker refused the access token for %s; renewing it and reconnecting",
                self.device_id,
            )
        token = await self._renew()
        try:
            return await self._open(token)
        except ConnectionFailed as err:
            if err.auth_refused:
                raise CredentialDead(
                    "the broker rejected a token that was just issued"
                ) from err
            raise

    async def _open(self, token: AccessToken) -> MqttConnection:
        connection = MqttConnection(
            self._broker,
            client_id=f"ha-{self.device_id}-{secrets.token_hex(4)}",
            username=self.device_id,
            password=token.value,
            subscriptions=gateway_subscriptions(self.device_id),
            on_message=self._handle_message,
            on_disconnect=self._handle_disconnect,
        )
        self.connect_count += 1
        await connection.connect()
        if connection.protocol is not self._broker.protocol:
            LOGGER.info(
                "The broker of %s does not accept MQTT 5; using MQTT 3.1.1",
                self.device_id,
            )
            # Later connections start with the version that worked.
            self._broker = replace(self._broker, protocol=connection.protocol)
        return connection

    @callback
    def _adopt(self, connection: MqttConnection) -> None:
        """Make `connection` the current one and plan the next renewal."""
        self._connection = connection
        LOGGER.debug("Connected to the broker as %s", connection.client_id)
        self._schedule_renewal()
        self._async_update_availability()

    @callback
    def _schedule_renewal(self) -> None:
        if self._renewal_timer is not None:
            self._renewal_timer.cancel()
            self._renewal_timer = None
        token = self.tokens.token
        if token is None or not self.tokens.can_renew:
            return
        delay = max(token.seconds_left() - token.lifetime * RENEW_MARGIN_FRACTION, 0.0)
        self._renewal_timer = self.hass.loop.call_later(delay, self._start_renewal, 0)

    @callback
    def _start_renewal(self, attempt: int) -> None:
        self._renewal_timer = None
        if self._stopped or self._renewal_task is not None:
            return
        self._renewal_task = self.config_entry.async_create_background_task(
            self.hass,
            self._async_planned_renewal(attempt),
            f"{DOMAIN} token renewal {self.device_id}",
        )

    async def _async_planned_renewal(self, attempt: int) -> None:
        """Renew the token, then switch to a new connection before closing the old."""
        try:
            try:
                token = await self._renew()
            except TokenError as err:
                self._retry_renewal(attempt, err)
                return
            if self._reconnect_task is not None:
                # A reconnect is under way and will use the new token.
                return
            try:
                connection = await self._open(token)
            except ConnectionFailed as err:
                if err.auth_refused:
                    raise CredentialDead(
                        "the broker rejected a token that was just issued"
                    ) from err
                self._retry_renewal(attempt, err)
                return
            old, self._connection = self._connection, None
            self._adopt(connection)
            if old is not None:
                await old.close()
        except CredentialDead as err:
            self._async_auth_failed(err)
        finally:
            self._renewal_task = None

    @callback
    def _retry_renewal(self, attempt: int, err: Exception) -> None:
        token = self.tokens.token
        delay = backoff_delay(attempt)
        if token is not None:
            # Keep one last try before the broker drops the session at exp.
            delay = min(delay, max(token.seconds_left() - MIN_USABLE_SECONDS, 0.1))
        LOGGER.warning(
            "Renewing the access token for %s failed (%s); retrying in %.1f s",
            self.device_id,
            err,
            delay,
        )
        self._renewal_timer = self.hass.loop.call_later(
            delay, self._start_renewal, attempt + 1
        )

    # Losing the connection.

    @callback
    def _handle_disconnect(
        self, connection: MqttConnection, err: ConnectionFailed
    ) -> None:
        if connection is not self._connection or self._stopped:
            return
        self._connection = None
        LOGGER.debug("Connection %s lost: %s", connection.client_id, err)
        self._async_update_availability()
        self._start_reconnect()

    @callback
    def _start_reconnect(self) -> None:
        if self._reconnect_task is not None or self._stopped or self.auth_failed:
            return
        self._reconnect_task = self.config_entry.async_create_background_task(
            self.hass, self._async_reconnect(), f"{DOMAIN} reconnect {self.device_id}"
        )

    async def _async_reconnect(self) -> None:
        attempt = 0
        try:
            while not self._stopped:
                try:
                    connection = await self._establish()
                except CredentialDead as err:
                    self._async_auth_failed(err)
                    return
                except (ConnectionFailed, TokenError) as err:
                    delay = backoff_delay(attempt)
                    attempt += 1
                    LOGGER.debug(
                        "Reconnect to %s failed (%s); next try in %.1f s",
                        self.device_id,
                        err,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    continue
                self._reconnect_task = None
                self._adopt(connection)
                if attempt:
                    LOGGER.debug(
                        "Reconnected to %s after %s failed attempts",
                        self.device_id,
                        attempt,
                    )
                return
        finally:
            self._reconnect_task = None

    @callback
    def _async_auth_failed(self, err: Exception) -> None:
        """Stop the session and ask the user for a new credential."""
        if self.auth_failed:
            return
        self.auth_failed = True
        LOGGER.error("The gateway %s needs a new credential: %s", self.device_id, err)
        if self._renewal_timer is not None:
            self._renewal_timer.cancel()
            self._renewal_timer = None
        connection, self._connection = self._connection, None
        if connection is not None:
            self.hass.async_create_task(connection.close(), eager_start=True)
        # Set directly: async_set_update_error would log a second, generic
        # ERROR line for the same failure.
        self.last_exception = err
        self.last_update_success = False
        self.config_entry.async_start_reauth(self.hass)
        self._async_update_availability()

    # Incoming messages.

    @callback
    def _log_once(self, kind: str, message: str, *args: Any) -> None:
        if kind in self._logged_once:
            LOGGER.debug(message, *args)
            return
        self._logged_once.add(kind)
        LOGGER.warning(message + " (logged once; later ones at debug level)", *args)

    @callback
    def _handle_message(self, topic: str, payload: bytes) -> None:
        if topic == status_topic(self.device_id):
            self._handle_status(payload)
        elif topic == online_topic(self.device_id):
            self._handle_online(payload)

    @callback
    def _handle_status(self, payload: bytes) -> None:
        try:
            status = decode_status(payload)
        except PayloadError as err:
            self._log_once(
                "bad_status",
                "Ignoring a status from %s that does not decode: %s",
                self.device_id,
                err,
            )
            return
        if not status.inverters:
            LOGGER.debug("Ignoring a status from %s with no inverters", self.device_id)
            return
        if status.device_id and status.device_id != self.device_id:
            self._log_once(
                "foreign_status",
                "Ignoring a status that names gateway %s on the topic of %s",
                status.device_id,
                self.device_id,
            )
            return
        self.data.status = status
        self.data.inverters = {
            inverter.serial: inverter for inverter in status.inverters
        }
        self.data.received_at = time.monotonic()
        self._first_status.set()
        self._async_update_availability(notify=False)
        self.async_set_updated_data(self.data)

    @callback
    def _handle_online(self, payload: bytes) -> None:
        if payload not in (b"0", b"1"):
            self._log_once(
                "bad_online",
                "Ignoring an online message from %s that is not 0 or 1",
                self.device_id,
            )
            return
        self.data.online = payload == b"1"
        self._async_update_availability()

    # Availability.

    @property
    def connected(self) -> bool:
        """Return whether an MQTT session is up."""
        return self._connection is not None and self._connection.connected

    @property
    def mqtt_version(self) -> str:
        """Return the MQTT version that connections use: "5", or "3.1.1" after a fallback."""
        if self._broker.protocol is MQTTProtocolVersion.MQTTv311:
            return "3.1.1"
        return "5"

    @property
    def telemetry_fresh(self) -> bool:
        """Return whether the last status is recent enough to show."""
        received = self.data.received_at
        return (
            received is not None and time.monotonic() - received < STALE_AFTER_SECONDS
        )

    @property
    def gateway_available(self) -> bool:
        """Return whether telemetry and control can be trusted right now."""
        return self.connected and self.data.online is not False and self.telemetry_fresh

    @callback
    def _async_check_stale(self, _now: datetime) -> None:
        self._async_update_availability()

    @callback
    def _async_update_availability(self, *, notify: bool = True) -> None:
        """Log the start and the end of an outage once each, and refresh entities."""
        available = self.gateway_available
        if available == self._was_available:
            return
        previous, self._was_available = self._was_available, available
        if not available and previous is not None:
            self._outage_logged = True
            LOGGER.warning(
                "Gateway %s is unavailable: %s",
                self.device_id,
                self._unavailable_reason(),
            )
        elif available and self._outage_logged:
            # Only a reported outage gets its end reported, so the wait for
            # the first status after set-up logs nothing.
            self._outage_logged = False
            LOGGER.info("Gateway %s is available again", self.device_id)
        if notify:
            self.async_update_listeners()

    def _unavailable_reason(self) -> str:
        if self.auth_failed:
            return "the credential was rejected"
        if not self.connected:
            return "no connection to the broker"
        if self.data.online is False:
            return "the gateway is offline"
        return f"no telemetry for {STALE_AFTER_SECONDS:.0f} s"

    # Commands.

    async def async_send_command(self, command: Command) -> None:
        """Publish a command and wait for the broker to acknowledge it.

        Raises ServiceValidationError for an invalid value, and
        HomeAssistantError when the session is down or the broker does not
        acknowledge in time. Nothing is queued for later in either case.
        """
        try:
            payload = command.encode(self._command_ids.next_id())
        except CommandError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_command",
                translation_placeholders={"error": str(err)},
            ) from err
        connection = self._connection
        if connection is None or not connection.connected:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="not_connected"
            )
        try:
            await connection.publish(
                command_topic(self.device_id), payload, ack_timeout=COMMAND_ACK_TIMEOUT
            )
        except NotConnected as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="not_connected"
            ) from err
        except CommandTimeout as err:
            # NOTE: the PUBLISH already left this machine; a broker that is only
            # slow can still deliver it later. This client never sends it again.
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="command_timeout",
                translation_placeholders={"seconds": f"{COMMAND_ACK_TIMEOUT:g}"},
            ) from err
        except ConnectionFailed as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="command_rejected",
                translation_placeholders={"error": str(err)},
            ) from err
        LOGGER.debug("Sent %s to inverter %s", command.name, command.serial)
