"""gateway.broker against a real mosquitto: files, start and stop, restart, reload, bad input."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import time
import tomllib

import pytest

from gateway.broker import (
    Broker,
    BrokerError,
    Credentials,
    connect_code,
    free_port,
    load_participants,
    read_credentials,
    write_broker_files,
)
from techboard.cli import main

ACCEPTED, NOT_AUTHORIZED = 0, 135


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_files_are_private_and_the_credentials_match(broker):
    files = broker.files
    for path in (files.password_file, files.acl_file, files.credentials_file, files.gateway_secret):
        assert mode(path) == 0o600, path
    with files.credentials_file.open("rb") as handle:
        written = tomllib.load(handle)
    assert (written["host"], written["port"]) == (broker.host, broker.port)
    assert written["gateway"]["password"] == broker.gateway.password
    assert files.gateway_secret.read_text().strip() == broker.gateway.password
    assert set(written["participants"]) == {"alice", "bob", "mm1", "mm2", "noise1"}
    for name, password in written["participants"].items():
        assert broker.user(name).password == password
    hashed = files.password_file.read_text()
    assert broker.user("alice").password not in hashed
    assert hashed.startswith("gateway:$7$")
    config = files.config.read_text()
    assert "allow_anonymous false" in config
    assert "set_tcp_nodelay true" in config
    assert f"listener {broker.port} 127.0.0.1" in config


def test_every_user_connects_and_strangers_do_not(broker):
    for name in ("gateway", "alice", "bob", "mm1", "mm2", "noise1"):
        assert connect_code(broker.host, broker.port, broker.user(name)) == ACCEPTED, name
    alice = broker.user("alice")
    wrong = Credentials("alice", alice.password + "x")
    assert connect_code(broker.host, broker.port, wrong) == NOT_AUTHORIZED
    assert connect_code(broker.host, broker.port, None) == NOT_AUTHORIZED


def test_a_participant_added_while_it_runs_can_connect(broker):
    broker.add_participants({"carol": "carol-secret"})
    assert broker.user("carol").password == "carol-secret"
    assert connect_code(broker.host, broker.port, broker.user("carol")) == ACCEPTED


def test_stop_restart_and_kill(own_broker):
    alice = own_broker.user("alice")
    assert own_broker.stop() == 0
    assert not own_broker.running
    with pytest.raises(OSError):
        connect_code(own_broker.host, own_broker.port, alice)
    own_broker.start()
    assert connect_code(own_broker.host, own_broker.port, alice) == ACCEPTED
    own_broker.restart()
    assert connect_code(own_broker.host, own_broker.port, alice) == ACCEPTED
    own_broker.kill()
    assert not own_broker.running
    own_broker.start()
    assert connect_code(own_broker.host, own_broker.port, alice) == ACCEPTED
    assert "mosquitto version" in own_broker.files.log.read_text()


def test_the_factory_starts_brokers_with_the_names_asked_for(broker_factory):
    first, second = broker_factory(["carol"]), broker_factory(["dave", "erin"])
    assert first.port != second.port
    assert set(first.files.participants) == {"carol"}
    assert connect_code(second.host, second.port, second.user("erin")) == ACCEPTED
    with pytest.raises(KeyError, match="no broker user 'alice'"):
        first.user("alice")


def test_a_port_in_use_is_a_clear_error(broker, tmp_path):
    files = write_broker_files(tmp_path, ["alice"], port=broker.port)
    with pytest.raises(BrokerError, match="something already listens on"):
        Broker(files).start()


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["al/ice"], "is not 1-64 letters"),
        (["+"], "is not 1-64 letters"),
        (["%u"], "is not 1-64 letters"),
        ([""], "is not 1-64 letters"),
        (["gateway"], "has the gateway user's name"),
        ({"alice": "pass\nbob:x"}, "is empty or has a line break"),
        ({"alice": ""}, "is empty or has a line break"),
    ],
)
def test_bad_users_are_refused(tmp_path, names, message):
    with pytest.raises(ValueError, match=message):
        write_broker_files(tmp_path, names)


def test_participants_file(tmp_path):
    path = tmp_path / "participants.toml"
    path.write_text(
        '[[participant]]\nname = "alice"\npassword = "pw"\n[[participant]]\nname = "bob"\n'
    )
    assert load_participants(path) == {"alice": "pw", "bob": None}
    path.write_text('[[participant]]\npassword = "pw"\n')
    with pytest.raises(ValueError, match="participant 1 has no name"):
        load_participants(path)
    path.write_text('title = "none"\n')
    with pytest.raises(ValueError, match=r"no \[\[participant\]\] tables"):
        load_participants(path)


def test_cli_write_only_keeps_passwords_across_reruns(tmp_path, capsys):
    participants = tmp_path / "participants.toml"
    participants.write_text('[[participant]]\nname = "alice"\npassword = "alice-pw"\n')
    args = ["broker", "--dir", str(tmp_path / "b"), "--participants", str(participants)]
    assert main([*args, "--participant", "bob", "--write-only"]) == 0
    out = capsys.readouterr().out
    assert "users: gateway, bob, alice" in out
    assert f"credentials: {tmp_path / 'b' / 'credentials.toml'}" in out
    gateway, first = read_credentials(tmp_path / "b" / "credentials.toml")
    assert first["alice"] == "alice-pw"
    assert main([*args, "--participant", "bob", "--write-only"]) == 0
    assert read_credentials(tmp_path / "b" / "credentials.toml") == (gateway, first)


def test_cli_refuses_a_bad_name(tmp_path, capsys):
    assert main(["broker", "--dir", str(tmp_path), "--participant", "a/b", "--write-only"]) == 2
    assert "user name 'a/b' is not 1-64 letters" in capsys.readouterr().err


def test_cli_runs_mosquitto_until_sigterm(tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "techboard.cli", "broker", "--dir", str(tmp_path)]
    process = subprocess.Popen(
        [*command, "--participant", "alice", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        assert f"mosquitto listens on mqtt://127.0.0.1:{port}" in lines[2], lines
        _, passwords = read_credentials(tmp_path / "credentials.toml")
        alice = Credentials("alice", passwords["alice"])
        assert connect_code("127.0.0.1", port, alice) == ACCEPTED
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
        process.stdout.close()
    with pytest.raises(OSError):
        connect_code("127.0.0.1", port, alice)


def test_mosquitto_refusing_its_config_is_a_clear_error(tmp_path):
    files = write_broker_files(tmp_path, ["alice"])
    files.config.write_text(files.config.read_text() + "no_such_option 1\n")
    with pytest.raises(BrokerError, match="mosquitto exited at start"):
        Broker(files).start()


def passwd(*args: str) -> None:
    """Run mosquitto_passwd as docs/operations.md tells an operator to."""
    subprocess.run(["mosquitto_passwd", *args], check=True, capture_output=True)


def test_rotating_a_password_as_operations_md_says(own_broker):
    old = own_broker.user("alice")
    passwd("-b", str(own_broker.files.password_file), "alice", "rotated-pw")
    own_broker.reload()
    new = Credentials("alice", "rotated-pw")
    deadline = time.monotonic() + 5
    while connect_code(own_broker.host, own_broker.port, new) != ACCEPTED:
        assert time.monotonic() < deadline, "the rotated password was not accepted"
        time.sleep(0.02)
    assert connect_code(own_broker.host, own_broker.port, old) == NOT_AUTHORIZED


def test_removing_a_participant_disconnects_it(own_broker):
    bob = own_broker.user("bob")
    command = ["mosquitto_sub", "-h", own_broker.host, "-p", str(own_broker.port), "-V", "5"]
    listener = subprocess.Popen(
        [*command, "-u", "bob", "-P", bob.password, "-t", "techboard/v1/md/#"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.3)
        assert listener.poll() is None
        passwd("-D", str(own_broker.files.password_file), "bob")
        own_broker.reload()
        assert listener.wait(5) != 0
        assert "Not authorized" in listener.stderr.read()
    finally:
        listener.kill()
        listener.stderr.close()
    assert connect_code(own_broker.host, own_broker.port, bob) == NOT_AUTHORIZED
    assert connect_code(own_broker.host, own_broker.port, own_broker.user("alice")) == ACCEPTED
