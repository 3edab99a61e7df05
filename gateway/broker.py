"""The Mosquitto broker the gateway runs behind: its files for a directory, and its process.

`write_broker_files(directory, ...)` writes, for one broker:

    mosquitto.conf      the listener (loopback by default), no anonymous access, TCP_NODELAY,
                        MQTT v5 limits, persistence for persistent sessions in data/
    passwd              the password file, hashed by `mosquitto_passwd -U` (0600)
    acl                 `pattern` rules on %u: a participant writes only its own orders topic
                        and reads only its own reports; market data is read by every
                        authenticated user and written only by the gateway user, which reads
                        every participant's orders and writes their reports
    credentials.toml    every user name and password, for people and tests (0600)
    gateway.secret      the gateway user's password alone, for the gateway's `password_file`
    mosquitto.log       the broker's log, once it runs

`Broker(files)` starts mosquitto on them, waits until it accepts connections and stops it
(SIGTERM, then SIGKILL); SIGHUP makes it reread the password and ACL files. Participants come
from a TOML file of `[[participant]]` tables with a `name` and an optional `password` (a
gateway config file fits), or from a list; a missing password is generated.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.protocol import PREFIX

GATEWAY_USER = "gateway"
LOOPBACK = "127.0.0.1"
MAX_PACKET_BYTES = 1024 * 1024  # above the gateway's own limit, so the gateway sees oversize
MAX_QUEUED_MESSAGES = 100_000  # per client: QoS 1 messages held for a slow or offline session
USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")  # a topic level: no / + # or %


class BrokerError(RuntimeError):
    """Mosquitto is missing, refused its files, or did not start or stop."""


@dataclass(frozen=True)
class Credentials:
    """A broker user name and its password."""

    username: str
    password: str


@dataclass(frozen=True)
class BrokerFiles:
    """The files of one broker and the address it listens on."""

    directory: Path
    host: str
    port: int
    gateway: Credentials
    participants: Mapping[str, Credentials] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        """Return the path of mosquitto.conf."""
        return self.directory / "mosquitto.conf"

    @property
    def password_file(self) -> Path:
        """Return the path of the (hashed) password file."""
        return self.directory / "passwd"

    @property
    def acl_file(self) -> Path:
        """Return the path of the ACL file."""
        return self.directory / "acl"

    @property
    def credentials_file(self) -> Path:
        """Return the path of credentials.toml (every user's password, 0600)."""
        return self.directory / "credentials.toml"

    @property
    def gateway_secret(self) -> Path:
        """Return the path of the file holding the gateway user's password alone (0600)."""
        return self.directory / "gateway.secret"

    @property
    def log(self) -> Path:
        """Return the path of the broker's log."""
        return self.directory / "mosquitto.log"

    def user(self, name: str) -> Credentials:
        """Return the credentials of the gateway user or of participant `name`."""
        if name == self.gateway.username:
            return self.gateway
        try:
            return self.participants[name]
        except KeyError:
            known = ", ".join([self.gateway.username, *self.participants])
            raise KeyError(f"no broker user {name!r}; users: {known}") from None


def acl_text(gateway_user: str = GATEWAY_USER) -> str:
    """Return the ACL file: the gateway user's rules, then `pattern` rules for everyone else."""
    return f"""\
# techboard broker ACL (written by techboard broker; docs/protocol.md, Permissions).
# Rules are per user; `pattern` rules apply to every authenticated user, %u being the user name.

user {gateway_user}
topic read {PREFIX}/participants/+/orders
topic write {PREFIX}/participants/+/reports
topic readwrite {PREFIX}/md/#
topic readwrite {PREFIX}/ref/#
topic readwrite {PREFIX}/gateway/status

pattern write {PREFIX}/participants/%u/orders
pattern read {PREFIX}/participants/%u/reports
pattern read {PREFIX}/md/#
pattern read {PREFIX}/ref/#
pattern read {PREFIX}/gateway/status
"""


def config_text(
    files: BrokerFiles,
    *,
    max_packet_bytes: int = MAX_PACKET_BYTES,
    max_queued_messages: int = MAX_QUEUED_MESSAGES,
) -> str:
    """Return mosquitto.conf for `files`: one authenticated listener, persistence, limits."""
    directory = files.directory.resolve()
    lines = [
        "# techboard broker (written by techboard broker; docs/operations.md)",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {directory / 'passwd'}",
        f"acl_file {directory / 'acl'}",
        f"listener {files.port} {files.host}",
        "set_tcp_nodelay true",
        f"max_packet_size {max_packet_bytes}",
        f"max_queued_messages {max_queued_messages}",
        "persistence true",
        f"persistence_location {directory / 'data'}/",
        "autosave_interval 60",
        f"log_dest file {directory / 'mosquitto.log'}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
    ]
    if os.geteuid() == 0:
        # mosquitto started as root switches to the `mosquitto` user, which cannot read 0600
        # files owned by root; a local broker keeps the user that started it.
        lines.append("user root")
    return "\n".join(lines) + "\n"


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port on `host` that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def load_participants(path: str | Path) -> dict[str, str | None]:
    """Read `[[participant]]` tables (`name`, optional `password`) from a TOML file."""
    with Path(path).open("rb") as handle:
        data = tomllib.load(handle)
    tables = data.get("participant", [])
    if not isinstance(tables, list) or not tables:
        raise ValueError(f"{path}: no [[participant]] tables (each with a name)")
    participants: dict[str, str | None] = {}
    for number, table in enumerate(tables, 1):
        name = table.get("name") if isinstance(table, dict) else None
        password = table.get("password") if isinstance(table, dict) else None
        if not isinstance(name, str):
            raise ValueError(f"{path}: participant {number} has no name (a string)")
        if password is not None and not isinstance(password, str):
            raise ValueError(f"{path}: participant {name!r}: password must be a string")
        participants[name] = password
    return participants


def connect_code(
    host: str, port: int, credentials: Credentials | None, timeout: float = 5.0
) -> int:
    """Connect with MQTT v5 and return the CONNACK reason code (0: accepted, 135: refused)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if credentials is not None:
        client.username_pw_set(credentials.username, credentials.password)
    codes: list[int] = []
    client.on_connect = lambda _client, _data, _flags, code, _props: codes.append(code.value)
    client.connect(host, port)
    deadline = time.monotonic() + timeout
    try:
        while not codes and time.monotonic() < deadline:
            client.loop(0.05)
    finally:
        client.disconnect()
        client.loop(0.01)
    if not codes:
        raise BrokerError(f"no CONNACK from {host}:{port} within {timeout} s")
    return codes[0]


def check_user_name(name: str) -> str:
    """Return `name` if it can be a broker user and a topic level, else raise ValueError."""
    if not USER_NAME.fullmatch(name):
        raise ValueError(
            f"user name {name!r} is not 1-64 letters, digits, '_', '.' or '-' "
            "(starting with a letter, digit or '_')"
        )
    return name


def new_credentials(
    users: Mapping[str, str | None] | Iterable[str], reserved: str | None = None
) -> dict[str, Credentials]:
    """Return credentials for `users` (name -> password; None or a bare name: generated).

    Raise ValueError for a name that cannot be a topic level, a name equal to `reserved` (the
    gateway user's), or an empty password or one with a line break (one user a line in the file).
    """
    if not isinstance(users, Mapping):
        users = dict.fromkeys(users)
    credentials = {}
    for name, password in users.items():
        check_user_name(name)
        if name == reserved:
            raise ValueError(f"participant {name!r} has the gateway user's name")
        if password is not None and (not password or "\n" in password or "\r" in password):
            raise ValueError(f"the password of {name!r} is empty or has a line break")
        credentials[name] = Credentials(name, password or secrets.token_urlsafe(18))
    return credentials


def _private_write(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only (0600) from the first byte."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def _toml_string(value: str) -> str:
    """Return `value` as a TOML basic string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def mosquitto_passwd() -> str:
    """Return the path of mosquitto_passwd, or raise BrokerError saying what to install."""
    found = shutil.which("mosquitto_passwd")
    if found is None:
        raise BrokerError("mosquitto_passwd not found: install the mosquitto package")
    return found


def write_password_file(path: Path, users: Iterable[Credentials]) -> None:
    """Write the password file for `users`, hashed in one `mosquitto_passwd -U` call (0600)."""
    _private_write(path, "".join(f"{user.username}:{user.password}\n" for user in users))
    result = subprocess.run(
        [mosquitto_passwd(), "-U", str(path)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        path.unlink(missing_ok=True)
        raise BrokerError(f"mosquitto_passwd -U {path} failed: {result.stderr.strip()}")


def write_broker_files(
    directory: str | Path,
    participants: Mapping[str, str | None] | Iterable[str] = (),
    *,
    host: str = LOOPBACK,
    port: int = 0,
    gateway_password: str | None = None,
    gateway_user: str = GATEWAY_USER,
    max_packet_bytes: int = MAX_PACKET_BYTES,
    max_queued_messages: int = MAX_QUEUED_MESSAGES,
) -> BrokerFiles:
    """Write a broker's config, password, ACL and credentials files into `directory`.

    `participants` maps names to passwords (None: generate one) or lists names; port 0 takes a
    free port on `host`. Returns the files with every user's credentials.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is not 0-65535")
    gateway = new_credentials({gateway_user: gateway_password})[gateway_user]
    directory = Path(directory)
    (directory / "data").mkdir(parents=True, exist_ok=True)
    files = BrokerFiles(
        directory=directory,
        host=host,
        port=port or free_port(host),
        gateway=gateway,
        participants=new_credentials(participants, gateway_user),
    )
    write_password_file(files.password_file, [files.gateway, *files.participants.values()])
    _private_write(files.acl_file, acl_text(gateway_user))
    files.config.write_text(
        config_text(
            files, max_packet_bytes=max_packet_bytes, max_queued_messages=max_queued_messages
        )
    )
    _private_write(files.gateway_secret, files.gateway.password + "\n")
    _private_write(files.credentials_file, credentials_text(files))
    return files


def credentials_text(files: BrokerFiles) -> str:
    """Return credentials.toml: the broker address and every user's name and password."""
    lines = [
        "# techboard broker credentials: keep private (0600)",
        f"host = {_toml_string(files.host)}",
        f"port = {files.port}",
        "",
        "[gateway]",
        f"username = {_toml_string(files.gateway.username)}",
        f"password = {_toml_string(files.gateway.password)}",
        "",
        "[participants]",
        *(
            f"{_toml_string(name)} = {_toml_string(c.password)}"
            for name, c in files.participants.items()
        ),
    ]
    return "\n".join(lines) + "\n"


def read_credentials(path: str | Path) -> tuple[str | None, dict[str, str]]:
    """Return the gateway password and the participants' passwords of a credentials.toml."""
    with Path(path).open("rb") as handle:
        data = tomllib.load(handle)
    return data.get("gateway", {}).get("password"), dict(data.get("participants", {}))


def add_participants(
    files: BrokerFiles, participants: Mapping[str, str | None] | Iterable[str]
) -> BrokerFiles:
    """Return `files` with more participants, password and credentials files rewritten.

    A running broker reads the new password file on SIGHUP (Broker.reload).
    """
    added = new_credentials(participants, files.gateway.username)
    files = BrokerFiles(
        files.directory, files.host, files.port, files.gateway, {**files.participants, **added}
    )
    write_password_file(files.password_file, [files.gateway, *files.participants.values()])
    _private_write(files.credentials_file, credentials_text(files))
    return files


def _accepts(host: str, port: int) -> bool:
    """Return whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class Broker:
    """A mosquitto process on a BrokerFiles directory: start, wait until ready, stop."""

    def __init__(self, files: BrokerFiles, executable: str | None = None) -> None:
        """Prepare to run mosquitto (found on PATH or in /usr/sbin) on `files`."""
        self.files = files
        found = executable or shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")
        if found is None:
            raise BrokerError(
                "mosquitto not found: install it (Debian: apt-get install mosquitto "
                "mosquitto-clients)"
            )
        self.executable = found
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """Return whether the mosquitto process is alive."""
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start mosquitto and return once it accepts TCP connections (BrokerError if not)."""
        if self.running:
            raise BrokerError(f"mosquitto already runs (pid {self.process.pid})")
        if _accepts(self.files.host, self.files.port):
            raise BrokerError(f"something already listens on {self.address}")
        self.process = subprocess.Popen(
            [self.executable, "-c", str(self.files.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace").strip()
                self.process = None
                raise BrokerError(f"mosquitto exited at start: {error or self._log_tail()}")
            if _accepts(self.files.host, self.files.port):
                return
            time.sleep(0.02)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on {self.address} within {timeout} s")

    def stop(self, timeout: float = 5.0) -> int | None:
        """Stop mosquitto (SIGTERM, then SIGKILL after `timeout` s); return its exit status."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stderr.close()
        return process.returncode

    def kill(self) -> None:
        """Kill mosquitto at once (SIGKILL), as a crash would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process.stderr.close()
            self.process = None

    def restart(self, timeout: float = 10.0) -> None:
        """Stop mosquitto if it runs and start it again on the same port and files."""
        self.stop()
        self.start(timeout)

    def reload(self) -> None:
        """Make mosquitto reread its password and ACL files (SIGHUP)."""
        if not self.running:
            raise BrokerError("mosquitto does not run")
        self.process.send_signal(signal.SIGHUP)

    def add_participants(self, participants: Mapping[str, str | None] | Iterable[str]) -> None:
        """Add participants (passwords None: generated) and make a running broker read them."""
        names = list(participants)
        self.files = add_participants(self.files, participants)
        if self.running and names:
            self.reload()
            self._wait_accepted(self.user(names[-1]))

    def _wait_accepted(self, credentials: Credentials, timeout: float = 5.0) -> None:
        """Return once the broker accepts `credentials` (after a reload), else BrokerError."""
        deadline = time.monotonic() + timeout
        while connect_code(self.host, self.port, credentials) != 0:
            if time.monotonic() > deadline:
                raise BrokerError(f"broker still refuses {credentials.username} after reload")
            time.sleep(0.02)

    @property
    def host(self) -> str:
        """Return the address the listener is bound to."""
        return self.files.host

    @property
    def port(self) -> int:
        """Return the listener's TCP port."""
        return self.files.port

    @property
    def gateway(self) -> Credentials:
        """Return the gateway user's credentials."""
        return self.files.gateway

    def user(self, name: str) -> Credentials:
        """Return the credentials of the gateway user or of participant `name`."""
        return self.files.user(name)

    def wait(self) -> int:
        """Wait until mosquitto exits and return its exit status."""
        if self.process is None:
            raise BrokerError("mosquitto was not started")
        return self.process.wait()

    @property
    def address(self) -> str:
        """Return the listener as mqtt://host:port."""
        return f"mqtt://{self.files.host}:{self.files.port}"

    def _log_tail(self, lines: int = 5) -> str:
        """Return the last lines of the broker's log, or '' if it has none."""
        if not self.files.log.exists():
            return ""
        return " | ".join(self.files.log.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Broker:
        """Start mosquitto."""
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop mosquitto."""
        self.stop()
