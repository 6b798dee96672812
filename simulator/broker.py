"""A local mosquitto broker that authenticates clients like the production broker.

The production broker takes a short-lived JWT as the MQTT password, checks it
only at CONNECT and drops the connection when the token's ``exp`` passes.
Mosquitto's password file cannot model that. It stores one fixed password
per username, but the integration connects with a new token before it drops
the connection that uses the old one, so several valid tokens per username
must work at once. Nor can a password file end a connection at a given time.

So a small C plugin, ``simulator/broker/jwt_auth_plugin.c``, checks the token
(HS256, ``sub`` equal to the username, ``exp`` in the future) and kicks each
client at its token's expiry. It logs one line per CONNECT and per kick, and
the counters of ``MosquittoBroker`` read those lines back.

Mosquitto 2.0.11 replies to a CONNECT that the plugin rejects with CONNACK reason
code 135 (not authorized) under MQTT 5 and return code 5 under MQTT 3.1.1.
At a token's expiry an MQTT 5 client receives DISCONNECT with reason code 152
(administrative action) before the broker closes the socket.

The methods of ``MosquittoBroker`` block: call them through an executor from
an event loop.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
import datetime
import hashlib
import ipaddress
import logging
import os
from pathlib import Path
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from types import TracebackType
from typing import Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_LOGGER = logging.getLogger(__name__)

PLUGIN_SOURCE = Path(__file__).parent / "broker" / "jwt_auth_plugin.c"
DEFAULT_PLUGIN_CACHE_DIR = (
    Path(__file__).resolve().parent.parent / "build" / "simulator"
)
DEFAULT_SERVICE_USERNAME = "predbat_gateway_service"
LOOPBACK_HOST = "127.0.0.1"

_COMPILER_FLAGS = (
    "-shared",
    "-fPIC",
    "-O2",
    "-Wall",
    "-Wextra",
    "-std=c11",
    "-D_POSIX_C_SOURCE=200809L",
)
_LINKER_FLAGS = ("-lcrypto", "-lm")
_START_ATTEMPTS = 3
# Kills the process with pid $1 once stdin reaches end of file. Only this
# Python process keeps the pipe's write end open, so the watcher fires when it
# exits, even by SIGKILL, and a killed test run leaves no broker behind.
_WATCHER_SCRIPT = 'read -r _; kill -TERM "$1" 2>/dev/null'
# Bytes of usernames and client ids that the plugin writes unescaped.
_LOG_PLAIN_BYTES = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
)
_CONNECT_LINE = re.compile(
    r"jwt_auth: (?P<result>accepted|rejected) CONNECT username=(?P<username>\S+) "
    r"client_id=(?P<client_id>\S+)"
)
_KICK_LINE = re.compile(
    r"jwt_auth: kicked client username=(?P<username>\S+) client_id=(?P<client_id>\S+)"
)


class BrokerError(RuntimeError):
    """Raised when the plugin cannot be built or mosquitto does not start."""


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a TLS listener and for the clients that trust it."""

    ca_cert: Path
    cert: Path
    key: Path


def build_plugin(cache_dir: Path = DEFAULT_PLUGIN_CACHE_DIR) -> Path:
    """Compile the auth plugin into cache_dir and return the shared library.

    The file name carries a hash of the source and the compiler flags, so the
    plugin is rebuilt only when jwt_auth_plugin.c or the flags change.
    Concurrent builds are safe: each compiles to its own temporary file and
    renames it into place.
    """
    compiler = shutil.which("gcc")
    if compiler is None:
        raise BrokerError("gcc not found: install it with apt-get install gcc")
    source = PLUGIN_SOURCE.read_bytes()
    digest = hashlib.sha256(source + " ".join(_COMPILER_FLAGS + _LINKER_FLAGS).encode())
    target = cache_dir / f"jwt_auth_plugin-{digest.hexdigest()[:16]}.so"
    if target.exists():
        return target

    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache_dir, suffix=".so", delete=False) as tmp:
        temporary = Path(tmp.name)
    command = [
        compiler,
        *_COMPILER_FLAGS,
        "-o",
        str(temporary),
        str(PLUGIN_SOURCE),
        *_LINKER_FLAGS,
    ]
    try:
        result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            command, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise BrokerError(
                f"Compiling {PLUGIN_SOURCE} failed (gcc exit code "
                f"{result.returncode}); it needs the mosquitto-dev and libssl-dev "
                f"packages:\n{result.stderr}"
            )
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)
    _LOGGER.info("Built mosquitto auth plugin %s", target)
    return target


def make_test_certificates(directory: Path) -> TlsFiles:
    """Create a throwaway CA and a server certificate for 127.0.0.1 and localhost.

    The server certificate lists 127.0.0.1, ::1 and localhost as subject
    alternative names and is valid from a day ago for 30 days. Keys are
    unencrypted P-256 keys.
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    not_before = now - datetime.timedelta(days=1)
    not_after = now + datetime.timedelta(days=30)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "Predbat simulator test CA")]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                    x509.IPAddress(ipaddress.IPv6Address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    files = TlsFiles(
        ca_cert=directory / "ca.crt",
        cert=directory / "server.crt",
        key=directory / "server.key",
    )
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files.key.chmod(0o600)
    return files


def find_free_port(host: str = LOOPBACK_HOST) -> int:
    """Return a TCP port on host that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def escape_log_value(value: str) -> str:
    """Escape a username or client id the way the plugin writes it to the log."""
    return "".join(
        chr(byte) if byte in _LOG_PLAIN_BYTES else f"%{byte:02X}"
        for byte in value.encode()
    )


def _check_config_value(name: str, value: str) -> None:
    # Values go into mosquitto.conf unquoted, where whitespace would split them.
    if not value or any(character.isspace() for character in value):
        raise ValueError(f"{name} must be a non-empty string without whitespace")


class MosquittoBroker:
    """A mosquitto process with the JWT auth plugin, listening on 127.0.0.1.

    The plain listener uses ``port``, or a free port when it is 0. With
    ``tls`` set, a second listener on ``tls_port`` serves TLS with those
    certificate files. ``restart()`` keeps both ports. The log file keeps
    growing across restarts, so the counters cover every run of this object.
    Linux only, because process handling uses ``os.pidfd_open`` (kernel 5.3
    or later).
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        jwt_secret: str,
        service_username: str = DEFAULT_SERVICE_USERNAME,
        service_password: str | None = None,
        port: int = 0,
        tls: TlsFiles | None = None,
        tls_port: int = 0,
        plugin_cache_dir: Path = DEFAULT_PLUGIN_CACHE_DIR,
        mosquitto_binary: str = "mosquitto",
    ) -> None:
        """Prepare a broker in work_dir; nothing starts until ``start()``."""
        if service_password is None:
            service_password = secrets.token_urlsafe(24)
        _check_config_value("jwt_secret", jwt_secret)
        _check_config_value("service_username", service_username)
        _check_config_value("service_password", service_password)
        self.work_dir = work_dir
        self.host = LOOPBACK_HOST
        self.service_username = service_username
        self.service_password = service_password
        self.tls = tls
        self._jwt_secret = jwt_secret
        self._requested_port = port
        self._requested_tls_port = tls_port
        self._port: int | None = None
        self._tls_port: int | None = None
        self._plugin_cache_dir = plugin_cache_dir
        self._mosquitto_binary = mosquitto_binary
        self._process: subprocess.Popen[bytes] | None = None
        self._watcher: subprocess.Popen[bytes] | None = None
        self._stderr_file: Path = work_dir / "mosquitto.stderr"
        self.config_path = work_dir / "mosquitto.conf"
        self.log_path = work_dir / "mosquitto.log"

    @property
    def port(self) -> int:
        """The plain MQTT port; valid after the first ``start()``."""
        if self._port is None:
            raise RuntimeError("The broker has no port before start()")
        return self._port

    @property
    def tls_port(self) -> int | None:
        """The TLS port, or None without a TLS listener; valid after ``start()``."""
        return self._tls_port

    @property
    def pid(self) -> int | None:
        """Process id of the running mosquitto, or None when it is not running."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether the mosquitto process is alive."""
        return self._process is not None and not _has_exited(self._process)

    def start(self, timeout: float = 10.0) -> None:
        """Start mosquitto and wait until every listener accepts TCP connections.

        With port 0, a port taken by another process between the free-port
        probe and mosquitto's bind makes mosquitto exit. The first ``start()``
        then retries with new ports, up to three attempts in all. Later starts
        reuse the ports of the first and raise BrokerError instead.
        """
        if self.running:
            raise RuntimeError("The broker is already running")
        plugin = build_plugin(self._plugin_cache_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)

        # After the first start, the ports stay fixed so that clients can reconnect.
        reuse_ports = self._port is not None
        for attempt in range(1, _START_ATTEMPTS + 1):
            if not reuse_ports:
                self._port = self._requested_port or find_free_port()
                if self.tls is not None:
                    self._tls_port = self._requested_tls_port or find_free_port()
            self._write_config(plugin)
            try:
                self._launch(timeout)
            except BrokerError:
                ports_fixed = reuse_ports or (
                    self._requested_port != 0
                    and (self.tls is None or self._requested_tls_port != 0)
                )
                if ports_fixed or attempt == _START_ATTEMPTS:
                    if not reuse_ports:
                        self._port = self._tls_port = None
                    raise
                _LOGGER.warning(
                    "mosquitto failed to start on port %s (attempt %d), retrying on new ports",
                    self._port,
                    attempt,
                )
            else:
                _LOGGER.info(
                    "mosquitto started on %s port %s (TLS port %s), work dir %s",
                    self.host,
                    self._port,
                    self._tls_port,
                    self.work_dir,
                )
                return

    def stop(self, timeout: float = 5.0) -> None:
        """Stop mosquitto with SIGTERM, or SIGKILL after timeout seconds, and reap it."""
        process = self._process
        if process is None:
            return
        self._process = None
        if not _has_exited(process):
            _send_signal(process.pid, signal.SIGTERM)
            if not _wait_for_exit(process, timeout):
                _LOGGER.warning(
                    "mosquitto (pid %d) ignored SIGTERM for %.1f s, killing it",
                    process.pid,
                    timeout,
                )
                _send_signal(process.pid, signal.SIGKILL)
        # Stop the watcher before reaping mosquitto: until then the pid cannot
        # be reused, so the watcher's SIGTERM cannot reach another process.
        self._stop_watcher()
        process.wait()
        _LOGGER.info("mosquitto stopped (exit code %s)", process.returncode)

    def restart(self, timeout: float = 10.0) -> None:
        """Stop and start mosquitto on the same ports, dropping every connection."""
        self.stop()
        self.start(timeout)

    def __enter__(self) -> Self:
        """Start the broker."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the broker."""
        self.stop()

    def log_text(self) -> str:
        """Return the whole mosquitto log, or an empty string before the first start."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def connect_attempts(self, username: str) -> int:
        """Count the CONNECTs that the plugin checked for username, accepted or not."""
        escaped = escape_log_value(username)
        return sum(
            1
            for match in _CONNECT_LINE.finditer(self.log_text())
            if match["username"] == escaped
        )

    def auth_refusals(self, username: str) -> int:
        """Count the CONNECTs for username that the plugin rejected."""
        escaped = escape_log_value(username)
        return sum(
            1
            for match in _CONNECT_LINE.finditer(self.log_text())
            if match["username"] == escaped and match["result"] == "rejected"
        )

    def expiry_kicks(self, username: str) -> int:
        """Count the connections of username that the plugin kicked at token expiry."""
        escaped = escape_log_value(username)
        return sum(
            1
            for match in _KICK_LINE.finditer(self.log_text())
            if match["username"] == escaped
        )

    def _write_config(self, plugin: Path) -> None:
        lines = [
            "# Written by simulator/broker.py; rewritten at every start.",
            "per_listener_settings false",
            "allow_anonymous false",
            "persistence false",
            f"log_dest file {self.log_path}",
            "log_type all",
            "connection_messages true",
            "log_timestamp true",
            f"plugin {plugin}",
            f"plugin_opt_jwt_secret {self._jwt_secret}",
            f"plugin_opt_service_username {self.service_username}",
            f"plugin_opt_service_password {self.service_password}",
        ]
        if os.geteuid() == 0:
            # Started as root, mosquitto switches to the "mosquitto" user,
            # which may have no write access to the work directory.
            lines.append("user root")
        lines.append(f"listener {self._port} {self.host}")
        if self.tls is not None:
            lines += [
                f"listener {self._tls_port} {self.host}",
                f"certfile {self.tls.cert}",
                f"keyfile {self.tls.key}",
            ]
        self.config_path.write_text("\n".join(lines) + "\n")
        # The file contains the JWT secret and the service account password.
        self.config_path.chmod(0o600)

    def _launch(self, timeout: float) -> None:
        with self._stderr_file.open("wb") as stderr:
            process = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
                [self._mosquitto_binary, "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,
            )
        self._process = process
        self._watcher = subprocess.Popen(  # noqa: S603 - fixed script, pid passed as $1
            ["/bin/sh", "-c", _WATCHER_SCRIPT, "mosquitto-watcher", str(process.pid)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        ports = [self.port] + ([self._tls_port] if self._tls_port is not None else [])
        deadline = time.monotonic() + timeout
        pending = list(ports)
        while pending:
            if _has_exited(process):
                self._process = None
                self._stop_watcher()
                process.wait()
                log_tail = self.log_text().splitlines()[-5:]
                raise BrokerError(
                    f"mosquitto exited with code {process.returncode} while starting "
                    f"on port(s) {ports}. Last lines of {self.log_path}:\n"
                    + "\n".join(log_tail)
                    + f"\nOutput in {self._stderr_file}:\n"
                    + self._stderr_file.read_text(errors="replace")
                )
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError(
                    f"mosquitto did not accept connections on port(s) {ports} within "
                    f"{timeout} s; see {self.log_path}"
                )
            if _port_accepts(self.host, pending[0]):
                pending.pop(0)
            else:
                _wait_for_exit(process, 0.02)

    def _stop_watcher(self) -> None:
        watcher = self._watcher
        if watcher is None:
            return
        self._watcher = None
        # End of file on stdin makes the watcher send its SIGTERM and exit.
        if watcher.stdin is not None:
            watcher.stdin.close()
        if not _wait_for_exit(watcher, 5.0):
            watcher.kill()
        watcher.wait()


def _has_exited(process: subprocess.Popen[bytes]) -> bool:
    """Return whether process has exited, without reaping it."""
    if process.returncode is not None:
        return True
    try:
        result = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return result is not None


def _wait_for_exit(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait up to timeout seconds for process to exit, without reaping it.

    Returns whether it has exited. This waits on a pidfd rather than calling
    ``Popen.wait(timeout)``, which polls with ``time.sleep`` and reaps. Once
    ``homeassistant.block_async_io`` is enabled, as tests/conftest.py does,
    ``time.sleep`` raises in the main thread, and pytest runs the synchronous
    broker fixtures there.
    """
    if _has_exited(process):
        return True
    try:
        pidfd = os.pidfd_open(process.pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    return bool(readable)


def _send_signal(pid: int, signal_number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal_number)


def _port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
