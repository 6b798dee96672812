"""A TCP front that makes the local broker look like an MQTT 3.1.1-only broker.

Some production brokers do not speak MQTT 5. They reply to an MQTT 5 CONNECT
with the MQTT 3.1.1 CONNACK return code 1 (unacceptable protocol version)
and close the socket. Mosquitto has no setting for that, so this front
sits between the client and mosquitto's plain listener. It reads each
client's CONNECT and rejects MQTT 5 the way such a broker does, and for MQTT
3.1.1 (or 3.1) passes every byte through in both directions. Token checks,
expiry kicks and everything else stay with mosquitto and its plugin.

It runs in the caller's event loop and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
import contextlib
import logging
from typing import Any

from .broker import LOOPBACK_HOST

_LOGGER = logging.getLogger(__name__)

CONNECT_PACKET_TYPE = 1
# Protocol levels in the CONNECT variable header.
PROTOCOL_LEVEL_V31 = 3
PROTOCOL_LEVEL_V311 = 4
# CONNACK with session-present 0 and return code 1, in MQTT 3.1.1 framing.
CONNACK_UNACCEPTABLE_PROTOCOL = bytes([0x20, 0x02, 0x00, 0x01])
# Largest remaining length of a CONNECT we are willing to buffer.
MAX_CONNECT_LENGTH = 65536
PIPE_CHUNK = 65536


class ProtocolFrontError(ValueError):
    """The first bytes from a client were not an MQTT CONNECT."""


async def _read_connect(reader: asyncio.StreamReader) -> tuple[bytes, int]:
    """Read one CONNECT packet and return its bytes and its protocol level."""
    first = await reader.readexactly(1)
    if first[0] >> 4 != CONNECT_PACKET_TYPE:
        raise ProtocolFrontError(f"expected CONNECT, got packet type {first[0] >> 4}")
    header = bytearray(first)
    length = 0
    for shift in range(0, 28, 7):
        byte = (await reader.readexactly(1))[0]
        header.append(byte)
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
    else:
        raise ProtocolFrontError("CONNECT remaining length is malformed")
    if length > MAX_CONNECT_LENGTH:
        raise ProtocolFrontError(f"CONNECT of {length} bytes is too long")
    body = await reader.readexactly(length)
    if len(body) < 3:
        raise ProtocolFrontError("CONNECT is too short")
    name_length = int.from_bytes(body[:2])
    if len(body) < 2 + name_length + 1:
        raise ProtocolFrontError("CONNECT is too short for its protocol name")
    return bytes(header) + body, body[2 + name_length]


class Mqtt311Front:
    """Pass MQTT 3.1.1 and 3.1 clients to an upstream broker and reject MQTT 5."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        """Store the upstream broker's address. Listening starts with `start`."""
        self._upstream = (upstream_host, upstream_port)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.host = LOOPBACK_HOST
        self.port = 0
        # Counters the tests read: CONNECTs rejected for their version, and
        # CONNECTs passed to the broker.
        self.rejected_v5 = 0
        self.passed = 0

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close every open connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handle(reader, writer)
        except asyncio.IncompleteReadError, ConnectionError:
            pass
        except ProtocolFrontError as err:
            _LOGGER.info("Closing a client that sent no valid CONNECT: %s", err)
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        connect, level = await _read_connect(reader)
        if level not in (PROTOCOL_LEVEL_V31, PROTOCOL_LEVEL_V311):
            self.rejected_v5 += 1
            writer.write(CONNACK_UNACCEPTABLE_PROTOCOL)
            await writer.drain()
            return
        self.passed += 1
        upstream_reader, upstream_writer = await asyncio.open_connection(
            *self._upstream
        )
        try:
            upstream_writer.write(connect)
            await upstream_writer.drain()
            # When either side closes, the other side is closed too.
            await _first_to_finish(
                _pipe(reader, upstream_writer), _pipe(upstream_reader, writer)
            )
        finally:
            upstream_writer.close()
            with contextlib.suppress(ConnectionError):
                await upstream_writer.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(PIPE_CHUNK):
            writer.write(data)
            await writer.drain()


async def _first_to_finish(*coroutines: Coroutine[Any, Any, None]) -> None:
    tasks = [asyncio.create_task(coroutine) for coroutine in coroutines]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
