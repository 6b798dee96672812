"""Benchmark of the token lifecycle on loopback; run by hand with scripts/benchmark.

Prints figures and asserts nothing about speed. It uses the same real
mosquitto, token service and gateway simulator as the end-to-end tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import statistics
import time

from homeassistant.components.number import (
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.predbat_gateway.protocol import mqtt
from simulator.gateway import GatewaySimulator
from simulator.token_service import TokenService

from ..integration.helpers import entity_id, wait_until

EXPIRIES = 20


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"n={len(ordered)} p50={statistics.median(ordered) * 1000:.1f} ms "
        f"p95={p95 * 1000:.1f} ms max={ordered[-1] * 1000:.1f} ms"
    )


class ConnectTimer:
    """Records when each MqttConnection.connect started, ended and how."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[float, float, str]] = []
        original = mqtt.MqttConnection.connect
        timer = self

        async def timed_connect(connection: mqtt.MqttConnection) -> None:
            started = time.monotonic()
            try:
                await original(connection)
            except mqtt.ConnectionFailed as err:
                timer.events.append(
                    (
                        started,
                        time.monotonic(),
                        "refused" if err.auth_refused else "failed",
                    )
                )
                raise
            timer.events.append((started, time.monotonic(), "subscribed"))

        monkeypatch.setattr(mqtt.MqttConnection, "connect", timed_connect)

    def recoveries(self) -> list[float]:
        """Return the seconds from each auth refusal to the next subscribed connection."""
        samples = []
        for index, (_start, refused_at, outcome) in enumerate(self.events):
            if outcome != "refused":
                continue
            for _start2, end, later in self.events[index + 1 :]:
                if later == "subscribed":
                    samples.append(end - refused_at)
                    break
        return samples


@pytest.mark.parametrize("token_lifetime", [2.0])
async def test_recovery_after_refusal(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    token_service: TokenService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Time from a CONNACK refusal to a subscribed session with a fresh token."""
    timer = ConnectTimer(monkeypatch)
    # The service overstates the lifetime, so the client plans no renewal and
    # the broker drops it at each real expiry, then refuses the old token.
    token_service.reported_lifetime = 3600
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()

    await wait_until(
        lambda: len(timer.recoveries()) >= EXPIRIES,
        timeout=EXPIRIES * 4,
        what="recoveries",
    )

    print(
        f"\nrecovery from a refused token to subscribed again: {_percentiles(timer.recoveries())}"
    )
    await hass.config_entries.async_unload(config_entry.entry_id)


@pytest.mark.parametrize("token_lifetime", [2.0])
async def test_planned_renewal_gap_and_command_latency(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    token_service: TokenService,
) -> None:
    """Telemetry around planned renewals, and number.set_value to the gateway."""
    published: dict[str, float] = {}
    original_publish = gateway._publish

    def record_publish(topic: str, payload: bytes, *, retain: bool) -> bool:
        if topic == gateway.status_topic:
            published[hashlib.sha1(payload).hexdigest()] = time.monotonic()
        return original_publish(topic, payload, retain=retain)

    gateway._publish = record_publish  # type: ignore[method-assign]
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    coordinator = config_entry.runtime_data
    received: dict[str, float] = {}
    original_handle = coordinator._handle_status

    def record_status(payload: bytes) -> None:
        received.setdefault(hashlib.sha1(payload).hexdigest(), time.monotonic())
        original_handle(payload)

    coordinator._handle_status = record_status  # type: ignore[method-assign]
    serial = gateway.inverters[0].config.serial
    number = entity_id(hass, "number", f"{serial}_charge_rate")
    renewals_before = sum(1 for r in token_service.requests if r.outcome == "issued")
    started = time.monotonic()
    latencies: list[float] = []
    value = 0

    while (
        sum(1 for r in token_service.requests if r.outcome == "issued")
        - renewals_before
        < EXPIRIES
    ):
        value += 1
        index = len(gateway.received_commands)
        sent = time.monotonic()
        await hass.services.async_call(
            NUMBER_DOMAIN,
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: number, ATTR_VALUE: value},
            blocking=True,
        )
        await gateway.wait_for_command(start=index)
        latencies.append(time.monotonic() - sent)
        await asyncio.sleep(0.1)

    # Statuses published after set-up and at least a second before the end.
    window = [
        digest
        for digest, at in published.items()
        if started <= at <= time.monotonic() - 1
    ]
    missed = [digest for digest in window if digest not in received]
    arrivals = sorted(received[digest] for digest in window if digest in received)
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    print(
        f"\nplanned renewals: {EXPIRIES}; statuses published: {len(window)}; missed: {len(missed)}"
    )
    print(
        f"largest gap between statuses: {max(gaps) * 1000:.0f} ms (publish interval {gateway.interval * 1000:.0f} ms)"
    )
    print(
        f"number.set_value to the gateway receiving the command: {_percentiles(latencies)}"
    )
    await hass.config_entries.async_unload(config_entry.entry_id)
