"""Config flow: set up a gateway, reauthenticate it, or change its broker."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import ssl
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio
from yarl import URL

from . import async_build_broker_settings
from .const import (
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
    DEFAULT_PORT,
    DOMAIN,
    LOGGER,
)
from .credentials import credential_store
from .protocol.errors import ConnectionFailed, CredentialRejected, TokenError
from .protocol.mqtt import BrokerSettings, MqttConnection
from .protocol.tokens import AccessToken, TokenClient, TokenManager
from .protocol.topics import gateway_subscriptions, is_valid_device_id

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

PASSWORD_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))


class ValidationError(Exception):
    """A failed settings check, with the form error to show and where.

    `broker` marks a problem with the broker settings, which the user fixes
    on the first form rather than on the credential form.
    """

    def __init__(self, key: str, *, field: str = "base", broker: bool = False) -> None:
        """Store the form error key, the field it belongs to and its side."""
        super().__init__(key)
        self.key = key
        self.field = field
        self.broker = broker


@dataclass(slots=True)
class ValidatedCredential:
    """Credential state after a successful check."""

    # The refresh credential to store: the token service may have rotated it.
    refresh_token: str | None = None


def _broker_schema(defaults: Mapping[str, Any]) -> dict[probatio.Marker, Any]:
    return {
        probatio.Required(
            CONF_HOST, default=defaults.get(CONF_HOST, probatio.UNDEFINED)
        ): str,
        probatio.Required(
            CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PORT)
        ): probatio.All(probatio.Coerce(int), probatio.Range(min=1, max=65535)),
        probatio.Required(CONF_USE_TLS, default=defaults.get(CONF_USE_TLS, True)): bool,
        probatio.Required(
            CONF_VERIFY_CERTIFICATE, default=defaults.get(CONF_VERIFY_CERTIFICATE, True)
        ): bool,
        probatio.Optional(
            CONF_CA_CERTIFICATE,
            description={"suggested_value": defaults.get(CONF_CA_CERTIFICATE)},
        ): TextSelector(TextSelectorConfig(multiline=True)),
    }


def _is_valid_token_url(value: str) -> bool:
    try:
        url = URL(value)
    except ValueError:
        return False
    if not url.host:
        return False
    if url.scheme == "https":
        return True
    # Plain HTTP would send the credential in clear: only for this machine.
    return url.scheme == "http" and url.host in LOOPBACK_HOSTS


class PredbatGatewayConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up one Predbat gateway."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with no settings."""
        self._data: dict[str, Any] = {}
        # The last credential form's input, kept while the user fixes a
        # broker setting so it need not be typed again.
        self._credential_input: dict[str, Any] = {}
        # Typed refresh credential -> the newest one the token service returned.
        self._rotated: dict[str, str] = {}

    # Checks shared by every step.

    async def _async_get_access_token(
        self, data: Mapping[str, Any], tokens: TokenManager | None
    ) -> tuple[AccessToken, ValidatedCredential]:
        if tokens is not None:
            # A loaded entry's own manager stores any rotation itself.
            token = tokens.usable_token()
            if token is None:
                try:
                    token = await tokens.renew()
                except CredentialRejected as err:
                    raise ValidationError("invalid_auth") from err
                except TokenError as err:
                    raise ValidationError("token_service_unavailable") from err
            return token, ValidatedCredential()
        if data.get(CONF_TOKEN_URL):
            typed = data[CONF_REFRESH_TOKEN]
            # A rotating service killed the typed credential at the first
            # request, so a retry after an error must use the newest one.
            current = self._rotated.get(typed, typed)
            client = TokenClient(
                async_get_clientsession(self.hass), data[CONF_TOKEN_URL]
            )
            try:
                grant = await client.request_token(current)
            except CredentialRejected as err:
                LOGGER.debug("Token service rejected the credential: %s", err)
                raise ValidationError("invalid_auth") from err
            except TokenError as err:
                LOGGER.debug("Token request failed: %s", err)
                raise ValidationError("token_service_unavailable") from err
            newest = grant.refresh_token or current
            self._rotated[typed] = newest
            return grant.access_token, ValidatedCredential(newest)
        try:
            token = AccessToken.from_jwt(data[CONF_ACCESS_TOKEN])
        except TokenError as err:
            raise ValidationError("invalid_access_token") from err
        if token.seconds_left() <= 0:
            raise ValidationError("invalid_access_token")
        return token, ValidatedCredential()

    async def _async_validate(
        self, data: Mapping[str, Any], tokens: TokenManager | None = None
    ) -> ValidatedCredential:
        """Get a token and complete a real MQTT CONNECT with it.

        Raises ValidationError with the form error to show.
        """
        broker = await self._async_broker_settings(data)
        token, credential = await self._async_get_access_token(data, tokens)
        device_id = data[CONF_DEVICE_ID]
        connection = MqttConnection(
            broker,
            client_id=f"ha-setup-{device_id}-{self.flow_id[:8]}",
            username=device_id,
            password=token.value,
            subscriptions=gateway_subscriptions(device_id),
            on_message=lambda _topic, _payload: None,
            on_disconnect=lambda _connection, _err: None,
        )
        try:
            await connection.connect()
        except ConnectionFailed as err:
            LOGGER.debug("Test connection to %s failed: %s", device_id, err)
            if err.auth_refused:
                raise ValidationError("invalid_auth") from err
            raise ValidationError(
                "tls_error" if err.tls else "cannot_connect", broker=True
            ) from err
        await connection.close()
        return credential

    async def _async_broker_settings(self, data: Mapping[str, Any]) -> BrokerSettings:
        """Build the broker settings, raising ValidationError for a bad CA certificate."""
        try:
            return await async_build_broker_settings(self.hass, dict(data))
        except (ssl.SSLError, ValueError, TypeError) as err:
            # TypeError: create_default_context rejects non-ASCII cadata.
            raise ValidationError(
                "invalid_ca_certificate", field=CONF_CA_CERTIFICATE, broker=True
            ) from err

    async def _async_check(
        self, data: Mapping[str, Any], tokens: TokenManager | None = None
    ) -> ValidatedCredential | ValidationError:
        """Run the checks and return the credential, or the error to show."""
        try:
            return await self._async_validate(data, tokens)
        except ValidationError as err:
            return err
        except Exception:
            LOGGER.exception("Unexpected error while checking the gateway settings")
            return ValidationError("unknown")

    async def _async_validate_to_errors(
        self,
        data: Mapping[str, Any],
        errors: dict[str, str],
        tokens: TokenManager | None = None,
        form_fields: frozenset[str] = frozenset(),
    ) -> ValidatedCredential | None:
        """Run the checks and put any error on its field, when the form has it, else on base."""
        result = await self._async_check(data, tokens)
        if isinstance(result, ValidationError):
            errors[result.field if result.field in form_fields else "base"] = result.key
            return None
        return result

    # Set-up.

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the device id and the broker."""
        errors: dict[str, str] = {}
        if user_input is not None:
            device_id = user_input[CONF_DEVICE_ID].strip()
            if not is_valid_device_id(device_id):
                errors[CONF_DEVICE_ID] = "invalid_device_id"
            else:
                await self.async_set_unique_id(device_id)
                self._abort_if_unique_id_configured()
                self._data = {**user_input, CONF_DEVICE_ID: device_id}
                try:
                    # Checked before any token request, which may rotate the credential.
                    await self._async_broker_settings(self._data)
                except ValidationError as err:
                    errors[err.field] = err.key
                else:
                    return await self._async_step_credential()
        return self._async_show_user_form(user_input, errors)

    def _async_show_user_form(
        self, user_input: Mapping[str, Any] | None, errors: dict[str, str]
    ) -> ConfigFlowResult:
        schema = probatio.Schema(
            {
                probatio.Required(CONF_DEVICE_ID): str,
                **_broker_schema(user_input or {}),
                probatio.Required(
                    CONF_AUTH_METHOD, default=AUTH_TOKEN_SERVICE
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=[AUTH_TOKEN_SERVICE, AUTH_ACCESS_TOKEN],
                        translation_key=CONF_AUTH_METHOD,
                        mode=SelectSelectorMode.LIST,
                    )
                ),
            }
        )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    async def _async_step_credential(self) -> ConfigFlowResult:
        """Ask for the credential, or reuse the one kept after a broker error."""
        token_service = self._data[CONF_AUTH_METHOD] == AUTH_TOKEN_SERVICE
        saved = self._credential_input
        if saved and (CONF_TOKEN_URL in saved) == token_service:
            return await self._async_check_and_create()
        self._credential_input = {}
        if token_service:
            return await self.async_step_token_service()
        return await self.async_step_access_token()

    async def async_step_token_service(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the token service and the refresh credential, then check them."""
        if user_input is None:
            return self._async_show_token_service_form(None, {})
        token_url = user_input[CONF_TOKEN_URL].strip()
        if not _is_valid_token_url(token_url):
            return self._async_show_token_service_form(
                token_url, {CONF_TOKEN_URL: "invalid_token_url"}
            )
        self._credential_input = {
            CONF_TOKEN_URL: token_url,
            CONF_REFRESH_TOKEN: user_input[CONF_REFRESH_TOKEN],
        }
        return await self._async_check_and_create()

    def _async_show_token_service_form(
        self, token_url: str | None, errors: dict[str, str]
    ) -> ConfigFlowResult:
        schema = probatio.Schema(
            {
                probatio.Required(CONF_TOKEN_URL): str,
                probatio.Required(CONF_REFRESH_TOKEN): PASSWORD_SELECTOR,
            }
        )
        return self.async_show_form(
            step_id="token_service",
            data_schema=self.add_suggested_values_to_schema(
                schema, {CONF_TOKEN_URL: token_url}
            ),
            errors=errors,
        )

    async def async_step_access_token(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for an access token pasted by hand, then check it."""
        if user_input is None:
            return self._async_show_access_token_form({})
        self._credential_input = {
            CONF_ACCESS_TOKEN: user_input[CONF_ACCESS_TOKEN].strip()
        }
        return await self._async_check_and_create()

    def _async_show_access_token_form(self, errors: dict[str, str]) -> ConfigFlowResult:
        return self.async_show_form(
            step_id="access_token",
            data_schema=probatio.Schema(
                {probatio.Required(CONF_ACCESS_TOKEN): PASSWORD_SELECTOR}
            ),
            errors=errors,
        )

    async def _async_check_and_create(self) -> ConfigFlowResult:
        """Check the settings with the credential input and create the entry.

        A broker problem sends the user back to the first form, with the
        credential kept. A credential problem shows on the credential form.
        """
        data = {**self._data, **self._credential_input}
        result = await self._async_check(data)
        if not isinstance(result, ValidationError):
            if result.refresh_token is not None:
                data[CONF_REFRESH_TOKEN] = result.refresh_token
            return self._async_create(data)
        errors = {result.field: result.key}
        if result.broker:
            return self._async_show_user_form(self._data, errors)
        if CONF_TOKEN_URL in data:
            return self._async_show_token_service_form(data[CONF_TOKEN_URL], errors)
        return self._async_show_access_token_form(errors)

    def _async_create(self, data: dict[str, Any]) -> ConfigFlowResult:
        data.pop(CONF_AUTH_METHOD, None)
        if not data.get(CONF_CA_CERTIFICATE):
            data.pop(CONF_CA_CERTIFICATE, None)
        return self.async_create_entry(
            title=f"Predbat gateway {data[CONF_DEVICE_ID]}", data=data
        )

    # Reauthentication.

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Start reauthentication after the credential was rejected."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new refresh credential or access token, then check it."""
        entry = self._get_reauth_entry()
        field = (
            CONF_REFRESH_TOKEN if entry.data.get(CONF_TOKEN_URL) else CONF_ACCESS_TOKEN
        )
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, field: user_input[field].strip()}
            credential = await self._async_validate_to_errors(data, errors)
            if credential is not None:
                if credential.refresh_token is not None:
                    data[CONF_REFRESH_TOKEN] = credential.refresh_token
                # The stored rotated credential belongs to the rejected one.
                await credential_store(self.hass, entry.entry_id).async_remove()
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=probatio.Schema({probatio.Required(field): PASSWORD_SELECTOR}),
            description_placeholders={CONF_DEVICE_ID: entry.data[CONF_DEVICE_ID]},
            errors=errors,
        )

    # Reconfiguration.

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the broker settings of an existing gateway."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            # Reuse the running session's token, so that no second token
            # request rotates the credential behind the coordinator's back.
            tokens = (
                entry.runtime_data.tokens
                if entry.state is ConfigEntryState.LOADED
                else None
            )
            credential = await self._async_validate_to_errors(
                {**entry.data, **user_input},
                errors,
                tokens,
                form_fields=frozenset({CONF_CA_CERTIFICATE}),
            )
            if credential is not None:
                # Read the entry again: the check may have stored a rotation.
                data = {**entry.data, **user_input}
                if not user_input.get(CONF_CA_CERTIFICATE):
                    data.pop(CONF_CA_CERTIFICATE, None)
                if credential.refresh_token is not None:
                    data[CONF_REFRESH_TOKEN] = credential.refresh_token
                    await credential_store(self.hass, entry.entry_id).async_remove()
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=probatio.Schema(_broker_schema(user_input or entry.data)),
            description_placeholders={CONF_DEVICE_ID: entry.data[CONF_DEVICE_ID]},
            errors=errors,
        )
