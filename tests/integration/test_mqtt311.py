"""A broker that speaks only MQTT 3.1.1: the integration falls back and keeps control.

The broker is the real mosquitto behind `Mqtt311Front`, which rejects MQTT 5
CONNECTs with return code 1, as brokers that downgrade do.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import logging
import time
from typing import Any

from homeassistant.components.number import (
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import ATTR_ENTITY_ID, CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from paho.mqtt.enums import MQTTProtocolVersion
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.predbat_gateway.const import (
    AUTH_TOKEN_SERVICE,
    CONF_AUTH_METHOD,
    CONF_DEVICE_ID,
    CONF_REFRESH_TOKEN,
    CONF_TOKEN_URL,
    CONF_USE_TLS,
    DOMAIN,
)
from simulator.broker import MosquittoBroker
from simulator.gateway import GatewaySimulator
from simulator.mqtt311_front import Mqtt311Front
from simulator.token_service import TokenService

from ..conftest import DEVICE_ID
from .helpers import entity_id, track_unavailable, wait_until


def _fallback_logs(caplog: pytest.LogCaptureFixture) -> int:
    """Count the lines that report the fallback, from set-up on."""
    return sum(
        "does not accept MQTT 5; using MQTT 3.1.1" in record.getMessage()
        for phase in ("setup", "call")
        for record in caplog.get_records(phase)
    )


@pytest.fixture
async def front(broker: MosquittoBroker) -> AsyncIterator[Mqtt311Front]:
    """Put an MQTT 3.1.1-only front before the broker's plain listener."""
    proxy = Mqtt311Front(broker.host, broker.port)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
def entry_data(entry_data: dict[str, Any], front: Mqtt311Front) -> dict[str, Any]:
    """Point the entry at the front. The simulated gateway stays on the broker."""
    return {**entry_data, CONF_PORT: front.port}


async def test_mqtt311_fallback_keeps_control(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    front: Mqtt311Front,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = loaded_entry.runtime_data
    serial = gateway.inverters[0].config.serial
    number = entity_id(hass, "number", f"{serial}_charge_rate")

    assert coordinator.connected
    assert coordinator._connection is not None
    assert coordinator._connection.protocol is MQTTProtocolVersion.MQTTv311
    assert front.rejected_v5 == 1
    assert _fallback_logs(caplog) == 1
    assert coordinator.mqtt_version == "3.1.1"

    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: number, ATTR_VALUE: 1700},
        blocking=True,
    )
    command = await gateway.wait_for_command(lambda c: c.get("power_w") == 1700)
    assert command["serial"] == serial
    await wait_until(
        lambda: float(hass.states.get(number).state) == 1700,
        what="the new charge rate in the next status",
    )


@pytest.mark.parametrize("token_lifetime", [2.0])
async def test_mqtt311_renewals_and_refusals(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    gateway: GatewaySimulator,
    broker: MosquittoBroker,
    token_service: TokenService,
    front: Mqtt311Front,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    coordinator = loaded_entry.runtime_data
    unavailable, unsubscribe = track_unavailable(hass, loaded_entry)
    # Planned renewals across three expiries.
    passed_before = front.passed
    await asyncio.sleep(3 * 2.0 + 0.5)
    renewals = front.passed - passed_before
    assert renewals >= 3
    assert unavailable == []
    kicks = await hass.async_add_executor_job(broker.expiry_kicks, DEVICE_ID)
    assert kicks == 0

    # Now the service claims an hour, so no renewal is planned. The broker drops
    # the session at exp and rejects the old token with return code 5.
    token_service.reported_lifetime = 3600
    await wait_until(
        lambda: coordinator.tokens.token.lifetime > 3000,
        timeout=5,
        what="long-lived token",
    )
    deadline = time.monotonic() + 6
    while await hass.async_add_executor_job(broker.auth_refusals, DEVICE_ID) == 0:
        assert time.monotonic() < deadline, "the broker never refused the old token"
        await asyncio.sleep(0.1)
    await wait_until(
        lambda: coordinator.connected, timeout=2, what="reconnect after refusal"
    )
    unsubscribe()

    assert not coordinator.auth_failed
    # The fallback is remembered: MQTT 5 was offered once, at set-up.
    assert front.rejected_v5 == 1
    assert _fallback_logs(caplog) == 1


async def test_config_flow_over_mqtt311(
    hass: HomeAssistant,
    token_service: TokenService,
    front: Mqtt311Front,
    broker: MosquittoBroker,
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_DEVICE_ID: DEVICE_ID,
            CONF_HOST: front.host,
            CONF_PORT: front.port,
            CONF_USE_TLS: False,
            CONF_AUTH_METHOD: AUTH_TOKEN_SERVICE,
        },
    )
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_TOKEN_URL: token_service.url,
            CONF_REFRESH_TOKEN: token_service.add_credential(DEVICE_ID),
        },
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert front.rejected_v5 >= 1
    assert front.passed >= 1
