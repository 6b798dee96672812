"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
import pytest

from simulator.broker import MosquittoBroker


@pytest.fixture
async def ca_pem(hass: HomeAssistant, broker: MosquittoBroker) -> str:
    """Return the PEM text of the CA that signed the broker's TLS certificate.

    Only for modules whose `broker` fixture has a TLS listener.
    """
    assert broker.tls is not None
    return await hass.async_add_executor_job(broker.tls.ca_cert.read_text)
