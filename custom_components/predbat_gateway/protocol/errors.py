"""Exceptions raised by the gateway protocol package."""


class GatewayError(Exception):
    """Base class of every error this package raises."""


class PayloadError(GatewayError):
    """A message from the gateway could not be decoded."""


class CommandError(GatewayError):
    """A command could not be built from the values given."""


class TokenError(GatewayError):
    """The token service could not issue an access token."""


class TokenServiceUnavailable(TokenError):
    """A transient failure: HTTP 5xx, 429, a time-out or a network error.

    The credential may still be good, so the caller retries later.
    """


class CredentialRejected(TokenError):
    """The token service rejected the refresh credential (revoked or unknown).

    Only the user can fix this, by entering a new credential.
    """


class ConnectionFailed(GatewayError):
    """The MQTT connection could not be made or was lost.

    `auth_refused` is True when the broker rejected the access token (MQTT 5
    CONNACK 134 or 135, MQTT 3.1.1 return code 4 or 5). `protocol_refused` is
    True when it does not speak the MQTT version we asked for (MQTT 5 CONNACK
    132, MQTT 3.1.1 return code 1).
    """

    def __init__(
        self,
        message: str,
        *,
        auth_refused: bool = False,
        tls: bool = False,
        protocol_refused: bool = False,
    ) -> None:
        """Store the failure's kind next to its message."""
        super().__init__(message)
        self.auth_refused = auth_refused
        self.tls = tls
        self.protocol_refused = protocol_refused


class NotConnected(GatewayError):
    """A command was sent while no MQTT session was up."""


class CommandTimeout(GatewayError):
    """The broker did not acknowledge a command in time."""
