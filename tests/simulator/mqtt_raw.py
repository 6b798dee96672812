"""A minimal MQTT client on asyncio streams that exposes raw reason codes.

paho-mqtt maps MQTT 3.1.1 return codes onto MQTT 5 reason codes, so the
broker tests use this client to see the bytes mosquitto really sends. It
speaks just enough MQTT 5 and 3.1.1 for the tests: CONNECT, SUBSCRIBE at
QoS 0, PUBLISH at QoS 0, PINGREQ and DISCONNECT.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import ssl
import struct

CONNACK = 2
PUBLISH = 3
SUBACK = 9
PINGRESP = 13
DISCONNECT = 14

MQTT_V311 = 4
MQTT_V5 = 5


def _string(value: str) -> bytes:
    data = value.encode()
    return struct.pack("!H", len(data)) + data


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        digit = value % 128
        value //= 128
        if value:
            digit |= 0x80
        out.append(digit)
        if not value:
            return bytes(out)


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + _varint(len(body)) + body


def _read_varint(data: bytes, offset: int) -> tuple[int, int]:
    value = 0
    multiplier = 1
    while True:
        byte = data[offset]
        offset += 1
        value += (byte & 0x7F) * multiplier
        multiplier *= 128
        if not byte & 0x80:
            return value, offset


@dataclass
class Publish:
    topic: str
    payload: bytes
    retain: bool


class RawMqttClient:
    """One MQTT connection; every read has a timeout so a test cannot hang."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        version: int,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.version = version
        self.connack_code: int | None = None
        self._next_packet_id = 1

    @classmethod
    async def connect(
        cls,
        port: int,
        username: str | None,
        password: str | None,
        *,
        version: int = MQTT_V5,
        client_id: str = "raw-test-client",
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 5.0,
    ) -> RawMqttClient:
        """Open a connection, send CONNECT and read the CONNACK code into connack_code."""
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=ssl_context
            )
        client = cls(reader, writer, version)
        flags = 0x02  # clean start
        payload = _string(client_id)
        if username is not None:
            flags |= 0x80
            payload += _string(username)
        if password is not None:
            flags |= 0x40
            payload += _string(password)
        header = _string("MQTT") + bytes([version, flags]) + struct.pack("!H", 60)
        if version == MQTT_V5:
            header += _varint(0)
        writer.write(_packet(0x10, header + payload))
        await writer.drain()
        packet_type, _, body = await client.read_packet(timeout)
        assert packet_type == CONNACK, (
            f"expected CONNACK, got packet type {packet_type}"
        )
        client.connack_code = body[1]
        return client

    async def read_packet(self, timeout: float = 5.0) -> tuple[int, int, bytes]:
        """Return (packet type, header flags, body) of the next packet.

        Raises EOFError when the broker has closed the connection.
        """
        async with asyncio.timeout(timeout):
            first = await self.reader.read(1)
            if not first:
                raise EOFError("connection closed by the broker")
            length = 0
            multiplier = 1
            while True:
                byte = (await self.reader.readexactly(1))[0]
                length += (byte & 0x7F) * multiplier
                multiplier *= 128
                if not byte & 0x80:
                    break
            body = await self.reader.readexactly(length) if length else b""
        return first[0] >> 4, first[0] & 0x0F, body

    async def subscribe(self, topic: str, timeout: float = 5.0) -> int:
        """Subscribe at QoS 0 and return the SUBACK code (0 granted, 0x87 not authorized)."""
        packet_id = self._take_packet_id()
        body = struct.pack("!H", packet_id)
        if self.version == MQTT_V5:
            body += _varint(0)
        body += _string(topic) + b"\x00"
        self.writer.write(_packet(0x82, body))
        await self.writer.drain()
        while True:
            packet_type, _, reply = await self.read_packet(timeout)
            if packet_type == SUBACK:
                break
        offset = 2
        if self.version == MQTT_V5:
            properties_length, offset = _read_varint(reply, offset)
            offset += properties_length
        return reply[offset]

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 0."""
        body = _string(topic)
        if self.version == MQTT_V5:
            body += _varint(0)
        self.writer.write(_packet(0x30, body + payload))
        await self.writer.drain()

    async def next_publish(self, topic: str, timeout: float = 5.0) -> Publish:
        """Return the next PUBLISH on topic, skipping other packets and topics."""
        async with asyncio.timeout(timeout):
            while True:
                packet_type, flags, body = await self.read_packet(timeout)
                if packet_type != PUBLISH:
                    continue
                message = self._parse_publish(flags, body)
                if message.topic == topic:
                    return message

    async def ping(self, timeout: float = 5.0) -> bool:
        """Send PINGREQ and return whether PINGRESP arrived before the connection ended."""
        self.writer.write(b"\xc0\x00")
        await self.writer.drain()
        try:
            while True:
                packet_type, _, _ = await self.read_packet(timeout)
                if packet_type == PINGRESP:
                    return True
        except EOFError, ConnectionError:
            return False

    async def close(self) -> None:
        """Send DISCONNECT if still possible and close the socket."""
        if not self.writer.is_closing():
            try:
                self.writer.write(b"\xe0\x00")
                await self.writer.drain()
            except ConnectionError:
                pass
            self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()

    def _take_packet_id(self) -> int:
        packet_id = self._next_packet_id
        self._next_packet_id += 1
        return packet_id

    def _parse_publish(self, flags: int, body: bytes) -> Publish:
        topic_length = struct.unpack_from("!H", body)[0]
        topic = body[2 : 2 + topic_length].decode()
        offset = 2 + topic_length
        if self.version == MQTT_V5:
            properties_length, offset = _read_varint(body, offset)
            offset += properties_length
        return Publish(topic=topic, payload=body[offset:], retain=bool(flags & 0x01))
