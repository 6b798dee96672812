"""A simulated Predbat gateway that talks MQTT like the ESP32 firmware.

``GatewaySimulator`` connects to a broker with the service account and keeps
``predbat/devices/{id}/online`` up to date, with a last will of ``"0"``. It
publishes a protobuf ``GatewayStatus`` every ``interval`` seconds. It applies
JSON commands from ``predbat/devices/{id}/command`` to its simulated
inverters, so the next status shows them.

paho-mqtt runs its own network thread. Its callbacks only pass data to the
event loop that called ``start()``, through ``call_soon_threadsafe``, so the
simulated state is read and changed in that loop only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
import contextlib
import json
import logging
from pathlib import Path
import random
import secrets
import socket
import ssl
import time
from typing import TYPE_CHECKING, Any

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from custom_components.predbat_gateway.protocol import predbat_pb2

from .commands import CommandError, apply_command
from .model import (
    EvChargerConfig,
    EvChargerState,
    GatewayInfo,
    InverterConfig,
    InverterState,
    advance,
    build_status,
    new_ev_charger_state,
    new_inverter_state,
)

if TYPE_CHECKING:
    from .broker import MosquittoBroker

_LOGGER = logging.getLogger(__name__)

DEFAULT_DEVICE_ID = "pbgw_sim001"
DEFAULT_INTERVAL = 5.0
KEEPALIVE_SECONDS = 60
_STOP_PUBLISH_TIMEOUT = 2.0
# Controller-to-gateway topics other than command, below the device's topic root.
_RECORDED_TOPICS = ("schedule", "ev/command", "predbat_data")

type CommandPredicate = Callable[[dict[str, Any]], bool]


class GatewaySimulator:
    """One simulated gateway with one or more inverters behind it.

    ``username`` and ``password`` are the broker's service account. With
    ``tls_ca`` set, the connection uses TLS and trusts only that CA file.
    ``interval`` (seconds, a float) may be changed while running and takes
    effect after the current wait. ``seed`` makes the simulated values
    repeatable for a given sequence of calls.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        device_id: str = DEFAULT_DEVICE_ID,
        inverters: Sequence[InverterConfig] | None = None,
        ev_chargers: Sequence[EvChargerConfig] = (),
        interval: float = DEFAULT_INTERVAL,
        tls_ca: Path | None = None,
        connect_timeout: float = 10.0,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
        seed: int | None = None,
    ) -> None:
        """Prepare the simulator; nothing connects until ``start()``."""
        configs = list(inverters) if inverters is not None else [InverterConfig()]
        serials = [config.serial for config in configs]
        if len(set(serials)) != len(serials):
            raise ValueError(f"Inverter serials must be unique, got {serials}")
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")

        self.device_id = device_id
        self.connect_timeout = connect_timeout
        self.host = host
        self.port = port
        self.interval = interval
        self.paused = False
        """When True, the periodic status is skipped; ``publish_status_now()`` still works."""
        self.received_commands: list[dict[str, Any]] = []
        """Every JSON object received on the command topic, applied or not, oldest first."""
        self.ignored_commands: list[str] = []
        """One line per command payload that was not applied, with the reason."""
        self.received_messages: list[tuple[str, bytes]] = []
        """(topic suffix, payload) of every message on ``schedule``, ``ev/command`` and
        ``predbat_data``, which the simulator records but does not act on."""
        self.last_status: predbat_pb2.GatewayStatus | None = None
        self.published_statuses = 0

        self._username = username
        self._password = password
        self._tls_ca = tls_ca
        self._protocol = protocol
        self._rng = random.Random(seed)
        self._configs = configs
        self._ev_configs = list(ev_chargers)
        self._inverters: list[InverterState] = []
        self._chargers: list[EvChargerState] = []
        self._info = GatewayInfo(device_id=device_id)
        self._last_step = 0.0

        self._client: Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._connack_count = 0
        self._first_connack: asyncio.Future[ReasonCode] | None = None
        self._command_waiters: set[asyncio.Future[None]] = set()

    @classmethod
    def for_broker(
        cls, broker: MosquittoBroker, *, use_tls: bool = False, **kwargs: Any
    ) -> GatewaySimulator:
        """Create a simulator that uses the service account of a started broker.

        With use_tls, it connects to the broker's TLS listener and trusts the
        broker's test CA. Other keyword arguments go to the constructor.
        """
        if use_tls:
            if broker.tls is None or broker.tls_port is None:
                raise ValueError("use_tls needs a broker started with a TLS listener")
            return cls(
                host=broker.host,
                port=broker.tls_port,
                username=broker.service_username,
                password=broker.service_password,
                tls_ca=broker.tls.ca_cert,
                **kwargs,
            )
        return cls(
            host=broker.host,
            port=broker.port,
            username=broker.service_username,
            password=broker.service_password,
            **kwargs,
        )

    @property
    def topic_root(self) -> str:
        """The topic prefix of this gateway, ``predbat/devices/{device_id}``."""
        return f"predbat/devices/{self.device_id}"

    @property
    def status_topic(self) -> str:
        """Topic of the protobuf status messages."""
        return f"{self.topic_root}/status"

    @property
    def online_topic(self) -> str:
        """Topic of the retained ``"1"``/``"0"`` online flag and the last will."""
        return f"{self.topic_root}/online"

    @property
    def command_topic(self) -> str:
        """Topic the gateway receives JSON commands on."""
        return f"{self.topic_root}/command"

    @property
    def connected(self) -> bool:
        """Whether the MQTT connection is up."""
        return self._connected.is_set()

    @property
    def inverters(self) -> list[InverterState]:
        """The simulated inverters in status order; empty before ``start()``."""
        return self._inverters

    def inverter(self, serial: str) -> InverterState:
        """Return the simulated inverter with this serial."""
        for state in self._inverters:
            if state.config.serial == serial:
                return state
        raise KeyError(f"No simulated inverter with serial {serial!r}")

    async def start(self) -> None:
        """Connect, publish online ``"1"`` and the first status, and start the status timer.

        Raises ConnectionRefusedError when the broker rejects the service
        account and TimeoutError when no CONNACK arrives within
        ``connect_timeout`` seconds. The simulator is stopped again in both
        cases.
        """
        if self._client is not None:
            raise RuntimeError("The gateway simulator is already running")
        self._loop = asyncio.get_running_loop()
        now = time.time()
        self._info.started_at = now
        self._inverters = [
            new_inverter_state(config, now, self._rng) for config in self._configs
        ]
        self._chargers = [new_ev_charger_state(config) for config in self._ev_configs]
        self._last_step = now
        self._connack_count = 0
        self._first_connack = self._loop.create_future()

        client = Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"{self.device_id}-gateway-{secrets.token_hex(4)}",
            protocol=self._protocol,
        )
        client.username_pw_set(self._username, self._password)
        client.will_set(self.online_topic, "0", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=2)
        if self._tls_ca is not None:
            context = await asyncio.to_thread(
                ssl.create_default_context, cafile=str(self._tls_ca)
            )
            client.tls_set_context(context)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client

        client.connect_async(self.host, self.port, keepalive=KEEPALIVE_SECONDS)
        client.loop_start()
        try:
            async with asyncio.timeout(self.connect_timeout):
                reason = await self._first_connack
        except TimeoutError:
            await self._shutdown_client(graceful=False)
            raise TimeoutError(
                f"No CONNACK from the broker at {self.host}:{self.port} within "
                f"{self.connect_timeout} s"
            ) from None
        if reason.is_failure:
            await self._shutdown_client(graceful=False)
            raise ConnectionRefusedError(
                f"Broker at {self.host}:{self.port} rejected the service account "
                f"{self._username!r}: {reason} ({reason.value})"
            )

        _LOGGER.info(
            "Gateway simulator %s connected to %s:%s with %d inverter(s)",
            self.device_id,
            self.host,
            self.port,
            len(self._inverters),
        )
        self.publish_status_now()
        self._publisher = asyncio.create_task(
            self._publish_periodically(), name=f"{self.device_id} status publisher"
        )

    async def stop(self) -> None:
        """Publish online ``"0"``, disconnect cleanly and join paho's network thread."""
        await self._cancel_publisher()
        await self._shutdown_client(graceful=True)
        for waiter in self._command_waiters:
            waiter.cancel()
        self._command_waiters.clear()
        _LOGGER.info("Gateway simulator %s stopped", self.device_id)

    async def drop_connection(self) -> None:
        """Close the TCP connection without DISCONNECT, as a power cut would.

        The broker then publishes the last will, online ``"0"``. The simulator
        stays offline until ``start()`` is called again, which boots it with
        fresh inverter state.
        """
        await self._cancel_publisher()
        client = self._client
        if client is None:
            return
        self._client = None
        sock = client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        await asyncio.to_thread(client.loop_stop)
        self._connected.clear()
        _LOGGER.info("Gateway simulator %s dropped its connection", self.device_id)

    def publish_status_now(self) -> predbat_pb2.GatewayStatus:
        """Advance the model to the current time, publish a status and return it.

        While the connection is down, the status is built but not sent.
        """
        now = time.time()
        advance(
            self._inverters,
            self._chargers,
            now,
            max(0.0, now - self._last_step),
            self._rng,
        )
        self._last_step = now
        status = build_status(
            self._info, self._inverters, self._chargers, now, self._rng
        )
        self.last_status = status
        if self._publish(self.status_topic, status.SerializeToString(), retain=False):
            self.published_statuses += 1
        return status

    def publish_raw_status(self, payload: bytes) -> None:
        """Publish payload unchanged on the status topic, for malformed-status tests."""
        if not self._publish(self.status_topic, payload, retain=False):
            raise ConnectionError(
                "Not connected to the broker: raw status not published"
            )

    def publish_raw_online(self, payload: bytes) -> None:
        """Publish payload unchanged on the online topic, for malformed-flag tests."""
        if not self._publish(self.online_topic, payload, retain=False):
            raise ConnectionError(
                "Not connected to the broker: raw online flag not published"
            )

    def set_online(self, online: bool) -> None:
        """Publish the retained online flag, ``"1"`` or ``"0"``, without changing the connection."""
        if not self._publish(self.online_topic, b"1" if online else b"0", retain=True):
            raise ConnectionError(
                "Not connected to the broker: online flag not published"
            )

    async def wait_for_command(
        self,
        predicate: CommandPredicate | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - reads better in tests than a wrapper
        start: int = 0,
    ) -> dict[str, Any]:
        """Return the first received command at index start or later that matches predicate.

        Commands received before the call count, so pass
        ``start=len(simulator.received_commands)`` to wait for a new one. The
        command has been applied by the time this returns. Raises TimeoutError
        after timeout seconds.
        """
        loop = asyncio.get_running_loop()
        index = start
        try:
            async with asyncio.timeout(timeout):
                while True:
                    while index < len(self.received_commands):
                        command = self.received_commands[index]
                        index += 1
                        if predicate is None or predicate(command):
                            return command
                    waiter: asyncio.Future[None] = loop.create_future()
                    self._command_waiters.add(waiter)
                    try:
                        await waiter
                    finally:
                        self._command_waiters.discard(waiter)
        except TimeoutError:
            raise TimeoutError(
                f"No matching command on {self.command_topic} within {timeout} s; "
                f"received since index {start}: {self.received_commands[start:]}"
            ) from None

    async def _cancel_publisher(self) -> None:
        publisher = self._publisher
        self._publisher = None
        if publisher is None:
            return
        publisher.cancel()
        try:
            await publisher
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise

    async def _publish_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if not self.paused:
                self.publish_status_now()

    def _publish(self, topic: str, payload: bytes, *, retain: bool) -> bool:
        client = self._client
        if client is None or not self.connected:
            _LOGGER.debug(
                "Not connected: skipped publishing %d bytes to %s", len(payload), topic
            )
            return False
        client.publish(topic, payload, qos=1, retain=retain)
        return True

    async def _shutdown_client(self, *, graceful: bool) -> None:
        client = self._client
        if client is None:
            return
        self._client = None
        if graceful and self._connected.is_set():
            info = client.publish(self.online_topic, b"0", qos=1, retain=True)
            try:
                await asyncio.to_thread(info.wait_for_publish, _STOP_PUBLISH_TIMEOUT)
            except (RuntimeError, ValueError) as err:
                _LOGGER.warning(
                    'Publishing online "0" for %s failed: %s', self.device_id, err
                )
            if not info.is_published():
                _LOGGER.warning(
                    'Broker did not acknowledge online "0" for %s within %.0f s',
                    self.device_id,
                    _STOP_PUBLISH_TIMEOUT,
                )
        client.disconnect()
        await asyncio.to_thread(client.loop_stop)
        self._connected.clear()

    # paho callbacks: they run in paho's network thread.

    def _on_connect(
        self,
        client: Client,
        userdata: object,
        flags: ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if not reason_code.is_failure:
            topics = [self.command_topic] + [
                f"{self.topic_root}/{suffix}" for suffix in _RECORDED_TOPICS
            ]
            client.subscribe([(topic, 1) for topic in topics])
            client.publish(self.online_topic, b"1", qos=1, retain=True)
        self._call_in_loop(self._handle_connack, reason_code)

    def _on_disconnect(
        self,
        client: Client,
        userdata: object,
        flags: DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._call_in_loop(self._handle_disconnect, reason_code)

    def _on_message(
        self, client: Client, userdata: object, message: MQTTMessage
    ) -> None:
        if message.topic == self.command_topic:
            self._call_in_loop(self._handle_command_payload, message.payload)
        else:
            suffix = message.topic.removeprefix(f"{self.topic_root}/")
            self._call_in_loop(self.received_messages.append, (suffix, message.payload))

    def _call_in_loop(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            # The loop closed before stop() ended the network thread.
            _LOGGER.debug(
                "Event loop closed: dropped a paho callback for %s", self.device_id
            )

    # Loop-side handlers.

    def _handle_connack(self, reason_code: ReasonCode) -> None:
        first = self._first_connack
        if first is not None and not first.done():
            first.set_result(reason_code)
        if reason_code.is_failure:
            _LOGGER.warning(
                "Broker rejected gateway simulator %s: %s", self.device_id, reason_code
            )
            return
        self._connack_count += 1
        if self._connack_count > 1:
            _LOGGER.info("Gateway simulator %s reconnected", self.device_id)
        self._connected.set()

    def _handle_disconnect(self, reason_code: ReasonCode) -> None:
        if self._connected.is_set():
            _LOGGER.info(
                "Gateway simulator %s disconnected: %s", self.device_id, reason_code
            )
        self._connected.clear()

    def _handle_command_payload(self, payload: bytes) -> None:
        try:
            command = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            self._ignore_command(f"invalid JSON ({err}): {payload[:200]!r}")
            return
        if not isinstance(command, dict):
            self._ignore_command(f"not a JSON object: {payload[:200]!r}")
            return

        try:
            target = self._command_target(command)
            apply_command(target, command)
        except CommandError as err:
            self._ignore_command(f"command {command.get('command')!r}: {err}")
        else:
            _LOGGER.debug("Applied command %s to %s", command, target.config.serial)
        self.received_commands.append(command)
        for waiter in self._command_waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _command_target(self, command: dict[str, Any]) -> InverterState:
        serial = command.get("serial")
        if not isinstance(serial, str):
            raise CommandError(f"missing or non-string serial {serial!r}")
        try:
            return self.inverter(serial)
        except KeyError:
            raise CommandError(f"unknown serial {serial!r}") from None

    def _ignore_command(self, reason: str) -> None:
        self.ignored_commands.append(reason)
        _LOGGER.warning(
            "Gateway simulator %s ignored a command: %s", self.device_id, reason
        )
