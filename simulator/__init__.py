"""Local stand-ins for the gateway's cloud: broker, token service and gateway.

The end-to-end tests and the demo (``python -m simulator``) use these to run
the integration against something that behaves like production, entirely on
127.0.0.1.
"""

from .broker import MosquittoBroker, TlsFiles, build_plugin, make_test_certificates
from .gateway import GatewaySimulator
from .model import EvChargerConfig, InverterConfig
from .token_service import TokenRequest, TokenService

__all__ = [
    "EvChargerConfig",
    "GatewaySimulator",
    "InverterConfig",
    "MosquittoBroker",
    "TlsFiles",
    "TokenRequest",
    "TokenService",
    "build_plugin",
    "make_test_certificates",
]
