"""One MQTT connection to the gateway's broker, driven by the asyncio loop.

paho-mqtt does the protocol work. The blocking part (DNS, TCP connect and TLS
handshake) runs in the executor. After that the loop watches the socket with
add_reader/add_writer, so no network thread is started and every paho
callback runs in the loop.

A connection is used once: the caller opens a new one, with a new client id,
for every reconnect, which lets it connect with a fresh token before the old
connection is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
import logging
import socket
import ssl
from typing import Any

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from .errors import CommandTimeout, ConnectionFailed, NotConnected

_LOGGER = logging.getLogger(__name__)

KEEPALIVE = 60
CONNECT_TIMEOUT = 10.0

# CONNACK codes that mean the broker refused the credentials: MQTT 5 reason
# codes 134 (bad user name or password) and 135 (not authorized). paho
# translates the MQTT 3.1.1 return codes 4 and 5 into these two.
AUTH_REFUSED_CODES = frozenset({134, 135})
# CONNACK "unsupported protocol version": MQTT 5 reason code 132, which paho
# also reports when an MQTT 3.1.1 broker replies with its return code 1.
UNSUPPORTED_PROTOCOL_CODE = 132


def is_auth_refusal(code: int) -> bool:
    """Return whether a CONNACK reason code is a refusal of the credentials."""
    return code in AUTH_REFUSED_CODES


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """Broker address, TLS context and MQTT options."""

    host: str
    port: int
    # None means plain TCP; the caller builds the context outside the loop
    # because loading certificates blocks.
    ssl_context: ssl.SSLContext | None = None
    protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5
    keepalive: int = KEEPALIVE
    connect_timeout: float = CONNECT_TIMEOUT


type MessageHandler = Callable[[str, bytes], None]
type DisconnectHandler = Callable[["MqttConnection", ConnectionFailed], None]


class MqttConnection:
    """One MQTT session with one client id and one access token."""

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        client_id: str,
        username: str,
        password: str,
        subscriptions: list[tuple[str, int]],
        on_message: MessageHandler,
        on_disconnect: DisconnectHandler,
    ) -> None:
        """Prepare a connection; nothing happens until `connect`."""
        self._settings = settings
        self.client_id = client_id
        self._username = username
        self._password = password
        self._subscriptions = subscriptions
        self._on_message = on_message
        self._on_disconnect = on_disconnect
        self._loop = asyncio.get_running_loop()
        self._client: Client | None = None
        self._socket: Any = None
        self._misc_timer: asyncio.TimerHandle | None = None
        self._connack: asyncio.Future[None] | None = None
        self._suback: dict[int, asyncio.Future[list[ReasonCode]]] = {}
        self._puback: dict[int, asyncio.Future[None]] = {}
        self._closed = asyncio.Event()
        self._connected = False
        self._closing = False
        self.protocol = settings.protocol

    @property
    def connected(self) -> bool:
        """Return whether CONNACK and SUBACK arrived and the socket is open."""
        return self._connected

    async def connect(self) -> None:
        """Connect, wait for CONNACK and subscribe.

        A broker that replies to an MQTT 5 CONNECT with "unsupported protocol
        version" gets a second CONNECT in MQTT 3.1.1 on a new socket;
        `protocol` tells which version the connection uses.

        Raises ConnectionFailed, with `auth_refused` set when the broker
        rejected the credentials and `tls` set on a TLS failure.
        """
        try:
            await self._connect_with(self.protocol)
        except ConnectionFailed as err:
            if (
                not err.protocol_refused
                or self.protocol is not MQTTProtocolVersion.MQTTv5
            ):
                raise
            _LOGGER.debug(
                "%s does not accept MQTT 5; connecting again with MQTT 3.1.1",
                self._endpoint,
            )
            self._reset()
            await self._connect_with(MQTTProtocolVersion.MQTTv311)
        self._connected = True

    async def _connect_with(self, protocol: MQTTProtocolVersion) -> None:
        self.protocol = protocol
        self._connack = self._loop.create_future()
        try:
            self._client = await self._loop.run_in_executor(
                None, self._connect_blocking
            )
        except ssl.SSLError as err:
            # A failed certificate check puts its cause only in verify_message,
            # such as "unable to get local issuer certificate" for a wrong CA.
            detail = getattr(err, "verify_message", None)
            reason = f"{err.reason} ({detail})" if detail else err.reason
            raise ConnectionFailed(
                f"TLS handshake with {self._endpoint} failed: {reason}", tls=True
            ) from err
        except (socket.gaierror, TimeoutError, OSError) as err:
            raise ConnectionFailed(
                f"cannot connect to {self._endpoint}: {err}"
            ) from err
        # From here on paho calls the socket callbacks from the loop.
        self._client.on_socket_open = self._on_socket_open
        self._client.on_socket_register_write = self._on_socket_register_write
        try:
            async with asyncio.timeout(self._settings.connect_timeout):
                await self._connack
                await self._subscribe()
        except TimeoutError as err:
            await self.close()
            raise ConnectionFailed(
                f"no CONNACK or SUBACK from {self._endpoint} within {self._settings.connect_timeout:g} s"
            ) from err
        except ConnectionFailed:
            await self.close()
            raise

    def _reset(self) -> None:
        """Forget a closed attempt so that the next one starts from scratch."""
        self._client = None
        self._socket = None
        self._closed = asyncio.Event()
        self._closing = False

    @property
    def _endpoint(self) -> str:
        return f"{self._settings.host}:{self._settings.port}"

    def _connect_blocking(self) -> Client:
        client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=self.protocol,
            reconnect_on_failure=False,
        )
        client.username_pw_set(self._username, self._password)
        if self._settings.ssl_context is not None:
            client.tls_set_context(self._settings.ssl_context)
        client.connect_timeout = self._settings.connect_timeout
        client.suppress_exceptions = True
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_subscribe = self._handle_subscribe
        client.on_publish = self._handle_publish
        client.on_message = self._handle_message
        client.on_socket_close = self._on_socket_close
        client.on_socket_unregister_write = self._on_socket_unregister_write
        # During connect paho calls these from this executor thread.
        client.on_socket_open = self._on_socket_open_threadsafe
        client.on_socket_register_write = self._on_socket_register_write_threadsafe
        client.connect(
            self._settings.host, self._settings.port, keepalive=self._settings.keepalive
        )
        return client

    async def _subscribe(self) -> None:
        assert self._client is not None
        result, mid = self._client.subscribe(self._subscriptions)
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise ConnectionFailed(
                f"subscribing on {self._endpoint} failed: {result.name}"
            )
        future: asyncio.Future[list[ReasonCode]] = self._loop.create_future()
        self._suback[mid] = future
        codes = await future
        refused = [code for code in codes if code.is_failure]
        if refused:
            raise ConnectionFailed(f"the broker rejected a subscription: {refused[0]}")

    async def publish(self, topic: str, payload: bytes, *, ack_timeout: float) -> None:
        """Publish with QoS 1 and wait for the broker's PUBACK.

        Raises NotConnected when the connection is not up or drops before the
        acknowledgement, CommandTimeout when none comes in `ack_timeout` seconds,
        and ConnectionFailed when the broker refuses the message.
        """
        if not self._connected or self._client is None:
            raise NotConnected("not connected to the broker")
        info = self._client.publish(topic, payload, qos=1)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise NotConnected(f"publish failed: {info.rc.name}")
        future: asyncio.Future[None] = self._loop.create_future()
        self._puback[info.mid] = future
        try:
            async with asyncio.timeout(ack_timeout):
                await future
        except TimeoutError as err:
            raise CommandTimeout(
                f"the broker did not acknowledge the message within {ack_timeout:g} s"
            ) from err
        finally:
            self._puback.pop(info.mid, None)

    async def close(self) -> None:
        """Send DISCONNECT and close the socket; safe to call more than once."""
        self._closing = True
        self._connected = False
        client = self._client
        if client is None:
            return
        if self._socket is not None:
            client.disconnect()
            try:
                async with asyncio.timeout(2):
                    await self._closed.wait()
            except TimeoutError:
                _LOGGER.debug(
                    "Connection %s did not close in time, dropping the socket",
                    self.client_id,
                )
                self._drop_socket()
        self._fail_pending(NotConnected("the connection was closed"))

    # paho callbacks, all in the event loop except the *_threadsafe ones.

    def _on_socket_open_threadsafe(
        self, client: Client, userdata: Any, sock: Any
    ) -> None:
        self._loop.call_soon_threadsafe(self._on_socket_open, client, userdata, sock)

    def _on_socket_register_write_threadsafe(
        self, client: Client, userdata: Any, sock: Any
    ) -> None:
        self._loop.call_soon_threadsafe(
            self._on_socket_register_write, client, userdata, sock
        )

    def _on_socket_open(self, client: Client, userdata: Any, sock: Any) -> None:
        self._socket = sock
        self._loop.add_reader(sock, partial(self._read, client))
        self._misc_timer = self._loop.call_later(1, self._misc, client)
        # Data may already wait in the TLS buffer, which add_reader cannot see.
        self._read(client)

    def _on_socket_close(self, client: Client, userdata: Any, sock: Any) -> None:
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)
        self._socket = None
        if self._misc_timer is not None:
            self._misc_timer.cancel()
            self._misc_timer = None
        self._closed.set()

    def _on_socket_register_write(
        self, client: Client, userdata: Any, sock: Any
    ) -> None:
        if self._socket is not None:
            self._loop.add_writer(sock, partial(self._write, client))

    def _on_socket_unregister_write(
        self, client: Client, userdata: Any, sock: Any
    ) -> None:
        self._loop.remove_writer(sock)

    def _read(self, client: Client) -> None:
        client.loop_read()

    def _write(self, client: Client) -> None:
        client.loop_write()

    def _misc(self, client: Client) -> None:
        if client.loop_misc() == MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._misc_timer = self._loop.call_later(1, self._misc, client)
        else:
            self._misc_timer = None

    def _drop_socket(self) -> None:
        sock = self._socket
        if sock is None:
            return
        self._on_socket_close(self._client, None, sock)  # type: ignore[arg-type]
        sock.close()

    def _handle_connect(
        self,
        client: Client,
        userdata: Any,
        flags: ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._connack is None or self._connack.done():
            return
        if reason_code.is_failure:
            self._connack.set_exception(
                ConnectionFailed(
                    f"{self._endpoint} refused the connection: {reason_code} ({reason_code.value})",
                    auth_refused=is_auth_refusal(reason_code.value),
                    protocol_refused=reason_code.value == UNSUPPORTED_PROTOCOL_CODE,
                )
            )
        else:
            self._connack.set_result(None)

    def _handle_disconnect(
        self,
        client: Client,
        userdata: Any,
        flags: DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        was_connected = self._connected
        self._connected = False
        failure = ConnectionFailed(
            f"connection to {self._endpoint} lost: {reason_code}"
        )
        self._fail_pending(NotConnected("the connection to the broker was lost"))
        if self._connack is not None and not self._connack.done():
            self._connack.set_exception(failure)
        if was_connected and not self._closing:
            self._on_disconnect(self, failure)

    def _fail_pending(self, error: Exception) -> None:
        pending_futures: list[asyncio.Future[Any]] = [
            *self._suback.values(),
            *self._puback.values(),
        ]
        for pending in pending_futures:
            if not pending.done():
                pending.set_exception(error)
                # Marked as retrieved, because its waiter may already be gone.
                pending.exception()
        self._suback.clear()
        self._puback.clear()

    def _handle_subscribe(
        self,
        client: Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        future = self._suback.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(reason_codes)

    def _handle_publish(
        self,
        client: Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        future = self._puback.get(mid)
        if future is None or future.done():
            return
        if reason_code.is_failure:
            future.set_exception(
                ConnectionFailed(f"the broker rejected the message: {reason_code}")
            )
        else:
            future.set_result(None)

    def _handle_message(
        self, client: Client, userdata: Any, message: MQTTMessage
    ) -> None:
        self._on_message(message.topic, bytes(message.payload))


def build_ssl_context(
    *, verify: bool, ca_certificate: str | None = None
) -> ssl.SSLContext:
    """Build the TLS context for the broker; this loads certificates, so call it off the loop.

    With `verify` the broker's certificate and host name are checked against
    the system CAs, or against `ca_certificate` (PEM text) when given.
    """
    if not verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if ca_certificate:
        return ssl.create_default_context(cadata=ca_certificate)
    return ssl.create_default_context()
