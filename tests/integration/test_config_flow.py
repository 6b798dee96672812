"""Config flow tests that drive the flow as the UI does, against real servers.

Every test here runs against one mosquitto with the JWT-checking plugin on a
plain and a TLS listener, and the simulator's token service. Nothing in the
flow is mocked except in the test of the `unknown` error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
import json
import logging
from pathlib import Path
import time
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
import jwt
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.predbat_gateway.const import (
    AUTH_ACCESS_TOKEN,
    AUTH_TOKEN_SERVICE,
    CONF_ACCESS_TOKEN,
    CONF_AUTH_METHOD,
    CONF_CA_CERTIFICATE,
    CONF_DEVICE_ID,
    CONF_REFRESH_TOKEN,
    CONF_TOKEN_URL,
    CONF_USE_TLS,
    CONF_VERIFY_CERTIFICATE,
    DOMAIN,
)
from custom_components.predbat_gateway.credentials import credential_store
from simulator.broker import MosquittoBroker, find_free_port
from simulator.gateway import GatewaySimulator
from simulator.token_service import TokenService

from ..conftest import DEVICE_ID, JWT_SECRET, assert_no_secret_logged
from .helpers import JWT_PREFIX, broker_counts, broker_with_tls

STRINGS = json.loads(
    (
        Path(__file__).parents[2]
        / "custom_components"
        / "predbat_gateway"
        / "strings.json"
    ).read_text()
)

# A host in a reserved example domain. The flow must reject it before any request.
REMOTE_HTTP_URL = "http://tokens.example.com/token"


@pytest.fixture
async def broker(
    tmp_path: Path, plugin_path: Path, loopback_sockets: None
) -> AsyncIterator[MosquittoBroker]:
    """Start the token-checking mosquitto with a plain and a TLS listener.

    This replaces the conftest broker in this module, so `entry_data` and
    `gateway` use the plain listener of the same process.
    """
    async with broker_with_tls(tmp_path, plugin_path) as mosquitto:
        yield mosquitto


@pytest.fixture(autouse=True)
async def unload_created_entries(
    hass: HomeAssistant, broker: MosquittoBroker, token_service: TokenService
) -> AsyncIterator[None]:
    """Unload the entries a flow created before the broker stops."""
    yield
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


def _user_input(
    broker: MosquittoBroker,
    *,
    device_id: str = DEVICE_ID,
    port: int | None = None,
    use_tls: bool = False,
    verify: bool = True,
    ca_certificate: str | None = None,
    auth_method: str = AUTH_TOKEN_SERVICE,
) -> dict[str, Any]:
    """Return the user step's form input for the broker's plain listener by default."""
    user_input: dict[str, Any] = {
        CONF_DEVICE_ID: device_id,
        CONF_HOST: broker.host,
        CONF_PORT: broker.port if port is None else port,
        CONF_USE_TLS: use_tls,
        CONF_VERIFY_CERTIFICATE: verify,
        CONF_AUTH_METHOD: auth_method,
    }
    if ca_certificate is not None:
        user_input[CONF_CA_CERTIFICATE] = ca_certificate
    return user_input


async def _submit_user_step(
    hass: HomeAssistant, user_input: dict[str, Any]
) -> ConfigFlowResult:
    """Open the flow as the UI does and submit the first form."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return await hass.config_entries.flow.async_configure(result["flow_id"], user_input)


async def _token_service_step(
    hass: HomeAssistant, broker: MosquittoBroker, **user_options: Any
) -> str:
    """Pass the user step and return the flow id, now at the token service form."""
    result = await _submit_user_step(hass, _user_input(broker, **user_options))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "token_service"
    return result["flow_id"]


async def _access_token_step(
    hass: HomeAssistant, broker: MosquittoBroker, **user_options: Any
) -> str:
    """Pass the user step and return the flow id, now at the access token form."""
    result = await _submit_user_step(
        hass, _user_input(broker, auth_method=AUTH_ACCESS_TOKEN, **user_options)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "access_token"
    return result["flow_id"]


async def _submit_credential(
    hass: HomeAssistant, flow_id: str, token_url: str, refresh_token: str
) -> ConfigFlowResult:
    return await hass.config_entries.flow.async_configure(
        flow_id, {CONF_TOKEN_URL: token_url, CONF_REFRESH_TOKEN: refresh_token}
    )


async def _submit_access_token(
    hass: HomeAssistant, flow_id: str, access_token: str
) -> ConfigFlowResult:
    return await hass.config_entries.flow.async_configure(
        flow_id, {CONF_ACCESS_TOKEN: access_token}
    )


def _assert_form_error(
    result: ConfigFlowResult, step_id: str, field: str, error: str
) -> None:
    """Check that the form is shown again with one translated error."""
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == step_id
    assert result["errors"] == {field: error}
    assert error in STRINGS["config"]["error"], f"no translation for error {error}"


def _assert_abort(result: ConfigFlowResult, reason: str) -> None:
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    assert reason in STRINGS["config"]["abort"], f"no translation for abort {reason}"


def _assert_no_secret_shown(result: ConfigFlowResult, secrets: Iterable[str]) -> None:
    """Fail when a secret appears in text that the UI shows for a flow result."""
    visible_texts = [
        str(result.get("title", "")),
        json.dumps(result.get("description_placeholders") or {}),
        json.dumps(result.get("errors") or {}),
        str(result.get("reason", "")),
    ]
    for secret in secrets:
        for text in visible_texts:
            assert secret not in text


def _foreign_jwt(claims: dict[str, Any]) -> str:
    """Return an HS256 JWT signed with a key the broker does not know."""
    return jwt.encode(claims, "not-the-broker-secret-" + "x" * 32, algorithm="HS256")


async def _start_gateway(broker: MosquittoBroker) -> GatewaySimulator:
    simulator = GatewaySimulator.for_broker(broker, device_id=DEVICE_ID, interval=0.2)
    await simulator.start()
    return simulator


# The user step.


async def test_user_form_defaults(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    defaults = {
        str(marker): marker.default()
        for marker in result["data_schema"].schema
        if callable(getattr(marker, "default", None))
    }
    assert defaults[CONF_PORT] == 8883
    assert defaults[CONF_USE_TLS] is True
    assert defaults[CONF_VERIFY_CERTIFICATE] is True
    assert defaults[CONF_AUTH_METHOD] == AUTH_TOKEN_SERVICE


@pytest.mark.parametrize(
    "device_id",
    [
        "PBGW_TEST01",
        "pbgw/test01",
        "pbgw#",
        "pbgw+",
        "pbgw test01",
        "   ",
        "",
        "a" * 65,
    ],
)
async def test_device_id_invalid(
    hass: HomeAssistant, broker: MosquittoBroker, device_id: str
) -> None:
    result = await _submit_user_step(hass, _user_input(broker, device_id=device_id))

    _assert_form_error(result, "user", CONF_DEVICE_ID, "invalid_device_id")


async def test_device_id_surrounding_spaces_stripped(
    hass: HomeAssistant, broker: MosquittoBroker
) -> None:
    flow_id = await _token_service_step(hass, broker, device_id=f"  {DEVICE_ID} ")

    flow = hass.config_entries.flow.async_get(flow_id)
    assert flow["context"]["unique_id"] == DEVICE_ID


async def test_device_id_corrected_after_error(
    hass: HomeAssistant, broker: MosquittoBroker
) -> None:
    result = await _submit_user_step(hass, _user_input(broker, device_id="PBGW"))
    _assert_form_error(result, "user", CONF_DEVICE_ID, "invalid_device_id")

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(broker)
    )

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "token_service"


@pytest.mark.parametrize("port", [0, 65536])
async def test_port_out_of_range_rejected(
    hass: HomeAssistant, broker: MosquittoBroker, port: int
) -> None:
    with pytest.raises(InvalidData):
        await _submit_user_step(hass, _user_input(broker, port=port))


async def test_duplicate_device_aborts(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    config_entry: MockConfigEntry,
) -> None:
    result = await _submit_user_step(hass, _user_input(broker))

    _assert_abort(result, "already_configured")
    assert token_service.requests == []


async def test_second_flow_same_device_aborts(
    hass: HomeAssistant, broker: MosquittoBroker
) -> None:
    await _token_service_step(hass, broker)

    result = await _submit_user_step(hass, _user_input(broker))

    # Home Assistant's own abort reason, which a custom integration must translate.
    _assert_abort(result, "already_in_progress")


# The token service step.


async def test_token_service_creates_entry(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    gateway: GatewaySimulator,
) -> None:
    typed = token_service.add_credential(DEVICE_ID)
    flow_id = await _token_service_step(hass, broker)

    result = await _submit_credential(hass, flow_id, token_service.url, typed)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    stored = result["data"][CONF_REFRESH_TOKEN]
    assert stored != typed
    assert result["data"] == {
        CONF_DEVICE_ID: DEVICE_ID,
        CONF_HOST: broker.host,
        CONF_PORT: broker.port,
        CONF_USE_TLS: False,
        CONF_VERIFY_CERTIFICATE: True,
        CONF_TOKEN_URL: token_service.url,
        CONF_REFRESH_TOKEN: stored,
    }
    assert result["title"] == f"Predbat gateway {DEVICE_ID}"
    _assert_no_secret_shown(result, [typed, stored])
    entry = result["result"]
    assert entry.unique_id == DEVICE_ID
    # The flow's request rotated the typed credential away, so set-up could
    # only get a token with the one the flow stored.
    assert [request.outcome for request in token_service.requests] == [
        "issued",
        "issued",
    ]
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.connected


@pytest.mark.parametrize(("style", "rotate"), [("oauth", False), ("predbat", True)])
async def test_token_service_without_rotation_stores_typed(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    gateway: GatewaySimulator,
    style: str,
    rotate: bool,
) -> None:
    token_service.style = style  # type: ignore[assignment]
    token_service.rotate = rotate
    typed = token_service.add_credential(DEVICE_ID)
    flow_id = await _token_service_step(hass, broker)

    result = await _submit_credential(hass, flow_id, token_service.url, typed)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_REFRESH_TOKEN] == typed
    assert result["result"].state is ConfigEntryState.LOADED


@pytest.mark.parametrize(
    "token_url",
    [
        "ftp://127.0.0.1/token",
        REMOTE_HTTP_URL,
        "not a url",
        "https://",
        "127.0.0.1:8080/token",
        "",
    ],
)
async def test_token_url_invalid(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    token_url: str,
) -> None:
    typed = token_service.add_credential(DEVICE_ID)
    flow_id = await _token_service_step(hass, broker)

    result = await _submit_credential(hass, flow_id, token_url, typed)

    _assert_form_error(result, "token_service", CONF_TOKEN_URL, "invalid_token_url")
    assert token_service.requests == []


@pytest.mark.parametrize(
    ("style", "outcome"), [("oauth", "invalid_grant"), ("predbat", "needs_reauth")]
)
async def test_unknown_credential_invalid_auth(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    style: str,
    outcome: str,
) -> None:
    token_service.style = style  # type: ignore[assignment]
    flow_id = await _token_service_step(hass, broker)

    result = await _submit_credential(
        hass, flow_id, token_service.url, "never-issued-credential"
    )

    _assert_form_error(result, "token_service", "base", "invalid_auth")
    assert token_service.requests[-1].outcome == outcome
    connects, _, _ = await broker_counts(hass, broker)
    assert connects == 0


async def test_broker_port_closed_back_to_user(
    hass: HomeAssistant, broker: MosquittoBroker, token_service: TokenService
) -> None:
    """The broker error shows on the form where the port can be changed."""
    typed = token_service.add_credential(DEVICE_ID)
    closed_port = find_free_port()
    flow_id = await _token_service_step(hass, broker, port=closed_port)

    result = await _submit_credential(hass, flow_id, token_service.url, typed)

    _assert_form_error(result, "user", "base", "cannot_connect")
    # The form keeps what the user typed.
    suggested = {
        str(key): key.description.get("suggested_value")
        for key in result["data_schema"].schema
        if key.description
    }
    assert suggested[CONF_DEVICE_ID] == DEVICE_ID
    assert suggested[CONF_PORT] == closed_port


async def test_token_service_503_unavailable(
    hass: HomeAssistant, broker: MosquittoBroker, token_service: TokenService
) -> None:
    token_service.failure_status = 503
    typed = token_service.add_credential(DEVICE_ID)
    flow_id = await _token_service_step(hass, broker)

    result = await _submit_credential(hass, flow_id, token_service.url, typed)

    _assert_form_error(result, "token_service", "base", "token_service_unavailable")
    assert token_service.requests[-1].status == 503


async def test_token_url_closed_port_unavailable(
    hass: HomeAssistant, broker: MosquittoBroker, token_service: TokenService
) -> None:
    typed = token_service.add_credential(DEVICE_ID)
    flow_id = await _token_service_step(hass, broker)

    result = await _submit_credential(
        hass, flow_id, f"http://127.0.0.1:{find_free_port()}/token", typed
    )

    _assert_form_error(result, "token_service", "base", "token_service_unavailable")


async def test_token_service_errors_then_entry(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    gateway: GatewaySimulator,
) -> None:
    typed = token_service.add_credential(DEVICE_ID)
    flow_id = await _token_service_step(hass, broker)

    result = await _submit_credential(hass, flow_id, REMOTE_HTTP_URL, typed)
    _assert_form_error(result, "token_service", CONF_TOKEN_URL, "invalid_token_url")

    result = await _submit_credential(hass, flow_id, token_service.url, "mistyped")
    _assert_form_error(result, "token_service", "base", "invalid_auth")

    token_service.failure_status = 503
    result = await _submit_credential(hass, flow_id, token_service.url, typed)
    _assert_form_error(result, "token_service", "base", "token_service_unavailable")

    token_service.failure_status = None
    result = await _submit_credential(hass, flow_id, token_service.url, typed)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].state is ConfigEntryState.LOADED


async def test_broker_outage_then_retry_creates_entry(
    hass: HomeAssistant, broker: MosquittoBroker, token_service: TokenService
) -> None:
    """A broker that is down for a moment must not cost the user the credential.

    The token service rotates the credential at the first request, so the
    flow must keep the newest one for the retry, which the user submits from
    the first form without typing the credential again.
    """
    typed = token_service.add_credential(DEVICE_ID)
    flow_id = await _token_service_step(hass, broker)
    await hass.async_add_executor_job(broker.stop)

    result = await _submit_credential(hass, flow_id, token_service.url, typed)
    _assert_form_error(result, "user", "base", "cannot_connect")

    await hass.async_add_executor_job(broker.start)
    simulator = await _start_gateway(broker)
    try:
        result = await hass.config_entries.flow.async_configure(
            flow_id, _user_input(broker)
        )

        assert result.get("errors") is None
        assert result["type"] is FlowResultType.CREATE_ENTRY
        # The retry used the rotated credential. The entry's set-up makes a third request.
        outcomes = [request.outcome for request in token_service.requests]
        assert outcomes[:2] == ["issued", "issued"]
    finally:
        await simulator.stop()


async def test_broker_error_then_other_method_asks_again(
    hass: HomeAssistant, broker: MosquittoBroker, token_service: TokenService
) -> None:
    """A kept refresh credential is not reused when the user picks pasted tokens."""
    typed = token_service.add_credential(DEVICE_ID)
    flow_id = await _token_service_step(hass, broker, port=find_free_port())
    result = await _submit_credential(hass, flow_id, token_service.url, typed)
    _assert_form_error(result, "user", "base", "cannot_connect")

    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(broker, auth_method=AUTH_ACCESS_TOKEN)
    )

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "access_token"
    assert result["errors"] == {}


# TLS.


async def test_tls_without_ca_tls_error(
    hass: HomeAssistant, broker: MosquittoBroker, token_service: TokenService
) -> None:
    typed = token_service.add_credential(DEVICE_ID)
    flow_id = await _token_service_step(
        hass, broker, port=broker.tls_port, use_tls=True
    )

    result = await _submit_credential(hass, flow_id, token_service.url, typed)

    _assert_form_error(result, "user", "base", "tls_error")


@pytest.mark.parametrize("verify", [True, False])
async def test_tls_creates_entry(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    gateway: GatewaySimulator,
    ca_pem: str,
    verify: bool,
) -> None:
    """Connect with the pasted CA when verifying, and with no CA when not verifying."""
    typed = token_service.add_credential(DEVICE_ID)
    ca_certificate = ca_pem if verify else None
    flow_id = await _token_service_step(
        hass,
        broker,
        port=broker.tls_port,
        use_tls=True,
        verify=verify,
        ca_certificate=ca_certificate,
    )

    result = await _submit_credential(hass, flow_id, token_service.url, typed)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_PORT] == broker.tls_port
    assert result["data"][CONF_USE_TLS] is True
    assert result["data"][CONF_VERIFY_CERTIFICATE] is verify
    assert result["data"].get(CONF_CA_CERTIFICATE) == ca_certificate
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.connected


@pytest.mark.parametrize(
    "ca_certificate",
    [
        "garbage",
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
        # Text before the PEM block with a non-ASCII character (an accented CA name).
        "Issuer: CN=Caf\u00e9 Root CA\n-----BEGIN CERTIFICATE-----\nMIIB\n"
        "-----END CERTIFICATE-----\n",
    ],
    ids=["garbage", "bad-base64", "non-ascii"],
)
async def test_ca_certificate_invalid(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    ca_certificate: str,
) -> None:
    result = await _submit_user_step(
        hass,
        _user_input(
            broker, port=broker.tls_port, use_tls=True, ca_certificate=ca_certificate
        ),
    )

    _assert_form_error(result, "user", CONF_CA_CERTIFICATE, "invalid_ca_certificate")
    # The CA is checked before the token request, because that request
    # rotates the credential.
    assert token_service.requests == []


# The access token step.


async def test_access_token_creates_entry(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    gateway: GatewaySimulator,
) -> None:
    access_token = token_service.issue_access_token(DEVICE_ID, 3600)
    flow_id = await _access_token_step(hass, broker)

    result = await _submit_access_token(hass, flow_id, f" {access_token}\n")

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_DEVICE_ID: DEVICE_ID,
        CONF_HOST: broker.host,
        CONF_PORT: broker.port,
        CONF_USE_TLS: False,
        CONF_VERIFY_CERTIFICATE: True,
        CONF_ACCESS_TOKEN: access_token,
    }
    _assert_no_secret_shown(result, [access_token])
    entry = result["result"]
    assert entry.unique_id == DEVICE_ID
    assert entry.state is ConfigEntryState.LOADED
    assert token_service.requests == []


@pytest.mark.parametrize("kind", ["expired", "not-a-jwt", "no-exp"])
async def test_access_token_invalid(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    kind: str,
) -> None:
    access_token = {
        "expired": token_service.issue_access_token(DEVICE_ID, -60),
        "not-a-jwt": "not-a-jwt",
        "no-exp": jwt.encode({"sub": DEVICE_ID}, JWT_SECRET, algorithm="HS256"),
    }[kind]
    flow_id = await _access_token_step(hass, broker)

    result = await _submit_access_token(hass, flow_id, access_token)

    _assert_form_error(result, "access_token", "base", "invalid_access_token")
    connects, _, _ = await broker_counts(hass, broker)
    assert connects == 0


@pytest.mark.parametrize("kind", ["wrong-secret", "other-device"])
async def test_access_token_refused_by_broker(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    kind: str,
) -> None:
    access_token = {
        "wrong-secret": _foreign_jwt(
            {"sub": DEVICE_ID, "exp": int(time.time()) + 3600}
        ),
        "other-device": token_service.issue_access_token("pbgw_other", 3600),
    }[kind]
    flow_id = await _access_token_step(hass, broker)

    result = await _submit_access_token(hass, flow_id, access_token)

    _assert_form_error(result, "access_token", "base", "invalid_auth")
    _, refusals, _ = await broker_counts(hass, broker)
    assert refusals == 1


async def test_access_token_corrected_after_error(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    gateway: GatewaySimulator,
) -> None:
    flow_id = await _access_token_step(hass, broker)
    expired = token_service.issue_access_token(DEVICE_ID, -60)
    result = await _submit_access_token(hass, flow_id, expired)
    _assert_form_error(result, "access_token", "base", "invalid_access_token")

    result = await _submit_access_token(
        hass, flow_id, token_service.issue_access_token(DEVICE_ID, 3600)
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_access_token_broker_closed_cannot_connect(
    hass: HomeAssistant, broker: MosquittoBroker, token_service: TokenService
) -> None:
    flow_id = await _access_token_step(hass, broker, port=find_free_port())

    result = await _submit_access_token(
        hass, flow_id, token_service.issue_access_token(DEVICE_ID, 3600)
    )

    _assert_form_error(result, "user", "base", "cannot_connect")


# Unexpected errors.


async def test_unexpected_error_unknown_then_entry(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    gateway: GatewaySimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    typed = token_service.add_credential(DEVICE_ID)
    flow_id = await _token_service_step(hass, broker)

    with patch(
        "custom_components.predbat_gateway.config_flow.async_build_broker_settings",
        side_effect=Exception("broken settings"),
    ):
        result = await _submit_credential(hass, flow_id, token_service.url, typed)

    _assert_form_error(result, "token_service", "base", "unknown")
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None

    result = await _submit_credential(hass, flow_id, token_service.url, typed)

    assert result["type"] is FlowResultType.CREATE_ENTRY


# Secrets.


async def test_token_service_flow_logs_no_secret(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    gateway: GatewaySimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    typed = token_service.add_credential(DEVICE_ID)
    secrets = [typed, "mistyped-credential"]
    flow_id = await _token_service_step(hass, broker)
    results = [await _submit_credential(hass, flow_id, token_service.url, secrets[1])]
    token_service.failure_status = 503
    results.append(await _submit_credential(hass, flow_id, token_service.url, typed))
    token_service.failure_status = None
    results.append(await _submit_credential(hass, flow_id, token_service.url, typed))

    entry = results[-1]["result"]
    assert entry.state is ConfigEntryState.LOADED
    secrets += [results[-1]["data"][CONF_REFRESH_TOKEN], entry.data[CONF_REFRESH_TOKEN]]
    assert len(caplog.records) > 0
    assert_no_secret_logged(caplog, secrets)
    assert JWT_PREFIX not in caplog.text
    for result in results:
        _assert_no_secret_shown(result, [*secrets, JWT_PREFIX])


async def test_access_token_flow_logs_no_secret(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    gateway: GatewaySimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    flow_id = await _access_token_step(hass, broker)
    results = [
        await _submit_access_token(
            hass, flow_id, _foreign_jwt({"sub": DEVICE_ID, "exp": 2**31})
        ),
        await _submit_access_token(
            hass, flow_id, token_service.issue_access_token(DEVICE_ID, -60)
        ),
        await _submit_access_token(
            hass, flow_id, token_service.issue_access_token(DEVICE_ID, 3600)
        ),
    ]

    assert results[-1]["type"] is FlowResultType.CREATE_ENTRY
    assert len(caplog.records) > 0
    assert JWT_PREFIX not in caplog.text
    for result in results:
        _assert_no_secret_shown(result, [JWT_PREFIX])


# Reauthentication.


async def test_reauth_replaces_revoked_credential(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    token_service: TokenService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    old_coordinator = loaded_entry.runtime_data
    revoked = loaded_entry.data[CONF_REFRESH_TOKEN]
    token_service.revoke(DEVICE_ID)
    loaded_entry.async_start_reauth(hass)
    await hass.async_block_till_done()
    flows = list(loaded_entry.async_get_active_flows(hass, {SOURCE_REAUTH}))
    assert len(flows) == 1
    flow = flows[0]
    assert flow["step_id"] == "reauth_confirm"

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_REFRESH_TOKEN: revoked}
    )
    _assert_form_error(result, "reauth_confirm", "base", "invalid_auth")
    assert result["description_placeholders"][CONF_DEVICE_ID] == DEVICE_ID

    new = token_service.add_credential(DEVICE_ID)
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_REFRESH_TOKEN: new}
    )
    _assert_abort(result, "reauth_successful")
    await hass.async_block_till_done()

    assert loaded_entry.state is ConfigEntryState.LOADED
    assert loaded_entry.runtime_data is not old_coordinator
    assert loaded_entry.runtime_data.connected
    current = loaded_entry.data[CONF_REFRESH_TOKEN]
    # The flow's request rotated `new`, and the reload rotated that one again.
    assert current not in (revoked, new)
    assert token_service.active_credentials(DEVICE_ID) == 1
    stored = await credential_store(hass, loaded_entry.entry_id).async_load()
    assert stored == {"refresh_token": current}
    assert_no_secret_logged(caplog, [revoked, new, current])
    assert JWT_PREFIX not in caplog.text


async def test_reauth_pasted_token_asks_access_token(
    hass: HomeAssistant,
    broker: MosquittoBroker,
    token_service: TokenService,
    gateway: GatewaySimulator,
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=DEVICE_ID,
        title=f"Predbat gateway {DEVICE_ID}",
        data={
            CONF_DEVICE_ID: DEVICE_ID,
            CONF_HOST: broker.host,
            CONF_PORT: broker.port,
            CONF_USE_TLS: False,
            CONF_VERIFY_CERTIFICATE: True,
            CONF_ACCESS_TOKEN: token_service.issue_access_token(DEVICE_ID, -60),
        },
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_REAUTH, "entry_id": entry.entry_id},
        data=dict(entry.data),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert [str(key) for key in result["data_schema"].schema] == [CONF_ACCESS_TOKEN]

    expired = token_service.issue_access_token(DEVICE_ID, -60)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ACCESS_TOKEN: expired}
    )
    _assert_form_error(result, "reauth_confirm", "base", "invalid_access_token")

    fresh = token_service.issue_access_token(DEVICE_ID, 3600)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ACCESS_TOKEN: fresh}
    )
    _assert_abort(result, "reauth_successful")
    await hass.async_block_till_done()

    assert entry.data[CONF_ACCESS_TOKEN] == fresh
    assert CONF_REFRESH_TOKEN not in entry.data
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.connected


# Reconfiguration.


async def _start_reconfigure(
    hass: HomeAssistant, entry: MockConfigEntry
) -> ConfigFlowResult:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    return result


def _broker_input(
    host: str,
    port: int,
    *,
    use_tls: bool = False,
    ca_certificate: str | None = None,
) -> dict[str, Any]:
    broker_input: dict[str, Any] = {
        CONF_HOST: host,
        CONF_PORT: port,
        CONF_USE_TLS: use_tls,
        CONF_VERIFY_CERTIFICATE: True,
    }
    if ca_certificate is not None:
        broker_input[CONF_CA_CERTIFICATE] = ca_certificate
    return broker_input


async def test_reconfigure_closed_port_then_real_port(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, broker: MosquittoBroker
) -> None:
    result = await _start_reconfigure(hass, loaded_entry)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _broker_input(broker.host, find_free_port())
    )
    _assert_form_error(result, "reconfigure", "base", "cannot_connect")

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _broker_input(broker.host, broker.port)
    )
    assert result.get("errors") is None
    _assert_abort(result, "reconfigure_successful")
    await hass.async_block_till_done()

    assert loaded_entry.state is ConfigEntryState.LOADED
    assert loaded_entry.runtime_data.connected


async def test_reconfigure_invalid_ca_on_its_field(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, broker: MosquittoBroker
) -> None:
    result = await _start_reconfigure(hass, loaded_entry)
    assert broker.tls_port is not None

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        _broker_input(
            broker.host, broker.tls_port, use_tls=True, ca_certificate="garbage"
        ),
    )

    _assert_form_error(
        result, "reconfigure", CONF_CA_CERTIFICATE, "invalid_ca_certificate"
    )
    assert loaded_entry.data[CONF_PORT] == broker.port


async def test_reconfigure_to_tls_listener(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    broker: MosquittoBroker,
    ca_pem: str,
) -> None:
    old_coordinator = loaded_entry.runtime_data
    result = await _start_reconfigure(hass, loaded_entry)
    assert result["description_placeholders"] == {CONF_DEVICE_ID: DEVICE_ID}
    assert broker.tls_port is not None

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        _broker_input(
            broker.host, broker.tls_port, use_tls=True, ca_certificate=ca_pem
        ),
    )
    _assert_abort(result, "reconfigure_successful")
    await hass.async_block_till_done()

    assert loaded_entry.data[CONF_PORT] == broker.tls_port
    assert loaded_entry.data[CONF_USE_TLS] is True
    assert loaded_entry.data[CONF_CA_CERTIFICATE] == ca_pem
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert loaded_entry.runtime_data is not old_coordinator
    assert loaded_entry.runtime_data.connected
