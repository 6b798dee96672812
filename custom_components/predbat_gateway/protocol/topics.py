"""MQTT topic names of one gateway."""

from __future__ import annotations

import re

# The device id becomes part of every topic, so it must not contain `/`, `+`,
# `#` or anything else with meaning in a topic.
DEVICE_ID_PATTERN = re.compile(r"^[a-z0-9_]{1,64}$")


def is_valid_device_id(device_id: str) -> bool:
    """Return whether a device id is lower-case letters, digits and `_` only."""
    return DEVICE_ID_PATTERN.fullmatch(device_id) is not None


def device_topic(device_id: str, leaf: str) -> str:
    """Return a topic under `predbat/devices/{device_id}/`."""
    return f"predbat/devices/{device_id}/{leaf}"


def status_topic(device_id: str) -> str:
    """Return the topic of the gateway's protobuf status."""
    return device_topic(device_id, "status")


def online_topic(device_id: str) -> str:
    """Return the topic of the gateway's retained `1`/`0` presence."""
    return device_topic(device_id, "online")


def gateway_subscriptions(device_id: str) -> list[tuple[str, int]]:
    """Return the topics a controller subscribes to, each with QoS 1."""
    return [(status_topic(device_id), 1), (online_topic(device_id), 1)]


def command_topic(device_id: str) -> str:
    """Return the topic that carries JSON commands to the gateway."""
    return device_topic(device_id, "command")
