"""A real Mosquitto broker for the gateway tests: its own config, password and ACL files.

`start_broker(directory, names)` writes the files with gateway.broker (the same code as
`techboard broker`) and starts mosquitto on a free loopback port; the returned Broker gives
`host`, `port`, `gateway` (Credentials), `user(name)`, and `stop()`, `start()`, `restart()`
(same port and files), `kill()`, `add_participants(names)` (the running broker rereads its
password file). Without mosquitto the tests fail, saying what to install.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from gateway.broker import Broker, BrokerError, write_broker_files

PARTICIPANTS = ("alice", "bob", "mm1", "mm2", "noise1")


def start_broker(directory: Path, names: Iterable[str] = PARTICIPANTS) -> Broker:
    """Write a broker's files for the gateway and `names` into `directory` and start it."""
    try:
        broker = Broker(write_broker_files(directory, list(names)))
        broker.start()
    except BrokerError as error:
        pytest.fail(f"the gateway tests need a real Mosquitto broker: {error}", pytrace=False)
    return broker
