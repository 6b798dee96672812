"""Run a local broker, token service and simulated gateway for a manual demo.

Usage: python -m simulator [--port 1883] [--token-port 8080]
[--token-lifetime 3600] [--device-id pbgw_demo01] [--interval 5]

Everything listens on 127.0.0.1 only. The program prints the values to enter
in Home Assistant's config flow and runs until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path
import re
import secrets
import signal
import sys

from .broker import BrokerError, MosquittoBroker, make_test_certificates
from .gateway import GatewaySimulator
from .token_service import TokenService

_LOGGER = logging.getLogger("simulator")

DEVICE_ID_PATTERN = re.compile(r"[a-z0-9_]+")
DEFAULT_WORK_DIR = Path("build") / "simulator" / "demo"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description=(
            "Run mosquitto with the token-checking plugin, a token service and a "
            "simulated Predbat gateway on 127.0.0.1, for trying the integration "
            "in Home Assistant."
        ),
    )

    parser.add_argument(
        "--port",
        type=int,
        default=1883,
        help="MQTT port of the broker; 0 picks a free port (default 1883)",
    )

    parser.add_argument(
        "--tls-port",
        type=int,
        default=0,
        help="also serve MQTT over TLS on this port, with a generated test CA "
        "(default 0: no TLS listener)",
    )

    parser.add_argument(
        "--token-port",
        type=int,
        default=8080,
        help="HTTP port of the token service; 0 picks a free port (default 8080)",
    )

    parser.add_argument(
        "--token-lifetime",
        type=float,
        default=3600.0,
        help="seconds an access token stays valid (default 3600)",
    )

    parser.add_argument(
        "--token-style",
        choices=("oauth", "predbat"),
        default="oauth",
        help="reply shape of the token service (default oauth)",
    )

    parser.add_argument(
        "--device-id",
        default="pbgw_demo01",
        help="device id of the simulated gateway: lower-case letters, digits "
        "and _ (default pbgw_demo01)",
    )

    parser.add_argument(
        "--interval",
        type=float,
        default=5.0,
        help="seconds between status messages (default 5)",
    )

    parser.add_argument(
        "--work-dir",
        type=Path,
        default=DEFAULT_WORK_DIR,
        help=f"folder for mosquitto's config, log and TLS files (default {DEFAULT_WORK_DIR})",
    )

    args = parser.parse_args(argv)
    if not DEVICE_ID_PATTERN.fullmatch(args.device_id):
        parser.error(
            f"--device-id {args.device_id!r} is invalid: use lower-case letters, "
            "digits and _ only"
        )
    if args.interval <= 0:
        parser.error(f"--interval must be positive, got {args.interval}")
    if args.token_lifetime <= 0:
        parser.error(f"--token-lifetime must be positive, got {args.token_lifetime}")
    return args


def describe_settings(
    args: argparse.Namespace,
    broker: MosquittoBroker,
    token_service: TokenService,
    credential: str,
) -> str:
    """Return the settings to enter in Home Assistant's config flow, as printable text."""
    lines = [
        "",
        "The Predbat gateway simulator is running. In Home Assistant, add the",
        "Predbat gateway integration and enter:",
        "",
        f"  Device id           {args.device_id}",
        f"  Broker host         {broker.host}",
        f"  Broker port         {broker.port}",
        "  TLS                 off",
        f"  Token service URL   {token_service.url}",
        f"  Refresh credential  {credential}",
        "",
    ]
    if broker.tls is not None:
        lines += [
            f"For TLS instead, use port {broker.tls_port} with TLS on and trust the CA",
            f"certificate {broker.tls.ca_cert.resolve()}.",
            "",
        ]
    if token_service.style == "oauth":
        lines.append(
            "The credential works once: each refresh returns a new one and "
            "retires the old one."
        )
    lines += [
        f"Access tokens live {args.token_lifetime:g} s; the broker drops a "
        "connection when its token expires.",
        f"Broker log: {broker.log_path.resolve()}",
        "Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    """Start the three services, wait for Ctrl-C or SIGTERM, then stop them."""
    jwt_secret = secrets.token_urlsafe(32)
    work_dir: Path = args.work_dir
    tls = None
    if args.tls_port:
        tls = await asyncio.to_thread(make_test_certificates, work_dir / "tls")
    broker = MosquittoBroker(
        work_dir,
        jwt_secret=jwt_secret,
        port=args.port,
        tls=tls,
        tls_port=args.tls_port,
    )
    token_service = TokenService(
        jwt_secret, style=args.token_style, lifetime=args.token_lifetime
    )
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop_requested.set)

    try:
        await asyncio.to_thread(broker.start)
    except BrokerError as err:
        _LOGGER.error(
            "Starting the broker failed; if port %s is in use, pass another --port: %s",
            args.port,
            err,
        )
        return 1
    try:
        try:
            await token_service.start(port=args.token_port)
        except OSError as err:
            _LOGGER.error(
                "Starting the token service on port %s failed; pass another "
                "--token-port: %s",
                args.token_port,
                err,
            )
            return 1
        gateway = GatewaySimulator.for_broker(
            broker, device_id=args.device_id, interval=args.interval
        )
        try:
            await gateway.start()
            credential = token_service.add_credential(args.device_id)
            print(
                describe_settings(args, broker, token_service, credential), flush=True
            )
            await stop_requested.wait()
            _LOGGER.info("Stopping")
        finally:
            await gateway.stop()
            await token_service.stop()
    finally:
        await asyncio.to_thread(broker.stop)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the demo and return the process exit code."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run(args))
    return 130


if __name__ == "__main__":
    sys.exit(main())
