"""Broker fixtures: one shared mosquitto for the session, and own ones for tests that stop it.

broker          session-scoped; users gateway, alice, bob, mm1, mm2, noise1 (do not stop it;
                broker.add_participants([...]) adds users while it runs)
own_broker      function-scoped, the same users: stop, kill or restart it freely
broker_factory  function-scoped: broker_factory(["carol", ...]) starts one with those users
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pytest
from broker_fixture import PARTICIPANTS, start_broker

from gateway.broker import Broker


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """Yield the session's shared broker."""
    running = start_broker(tmp_path_factory.mktemp("broker"))
    yield running
    running.stop()


@pytest.fixture
def own_broker(tmp_path) -> Iterator[Broker]:
    """Yield a broker of this test's own, stopped at its end."""
    running = start_broker(tmp_path / "broker")
    yield running
    running.stop()


@pytest.fixture
def broker_factory(tmp_path) -> Iterator[Callable[[Iterable[str]], Broker]]:
    """Yield a function that starts brokers with the given participants, all stopped at the end."""
    started: list[Broker] = []

    def start(names: Iterable[str] = PARTICIPANTS) -> Broker:
        running = start_broker(tmp_path / f"broker{len(started)}", names)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
