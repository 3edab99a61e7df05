"""Fuzzing of the wire decoder and the gateway's order handling: random bytes, truncated and
mistyped msgpack and JSON, valid orders with one field replaced (wrong types, huge, negative
and zero numbers, NaN, strings where integers belong, unknown fields, client ids of up to 400
characters, unicode) never crash, every refusal carries a reason code, and a refused message
changes nothing in the venue. The default run tries 3,000 + 1,500 messages; `-m soak` (and
`-m slow`) 100,000 + 10,000: 1,000 generated payloads with 99 variants each (prefixes, one byte
changed) and 200 lists of 50 (hypothesis's cost is per example, not per message)."""

from __future__ import annotations

import json
import math
import random

import msgpack
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from gateway.config import parse_config
from gateway.protocol import (
    JSON_CONTENT_TYPE,
    MAX_BATCH,
    WIRE_TEXT,
    NewOrder,
    Rejection,
    WireReason,
    decode,
    encode,
    new_order,
)
from gateway.server import Gateway

FIELDS = ["v", "type", "id", "symbol", "side", "price", "qty", "order_type", "tif", "orders",
          "extra", "é"]  # fmt: skip
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=True),
    st.text(max_size=40), st.binary(max_size=8), st.sampled_from(["new", "cancel", "replace",
    "batch", "snapshot", "bye", "buy", "sell", "AAA", "limit", "ioc"]), st.just(math.nan),
    st.lists(st.integers(-(2**63), 2**63), max_size=3),
)  # fmt: skip
IDS = st.one_of(st.text(max_size=40), st.text(min_size=33, max_size=400),
                st.text(st.characters(codec="ascii"), min_size=1, max_size=32))  # fmt: skip
MAPS = st.dictionaries(st.sampled_from(FIELDS), VALUES | IDS, max_size=9)
ORDERS = st.fixed_dictionaries({
    "v": st.just(1), "type": st.just("new"), "id": IDS, "symbol": st.just("AAA"),
    "side": st.sampled_from(["buy", "sell"]), "qty": st.integers(1, 10**6),
    "price": st.integers(1, 10**6),
})  # fmt: skip
MUTATED = st.builds(lambda order, field, value: {**order, field: value},
                    ORDERS, st.sampled_from(FIELDS), VALUES | IDS)  # fmt: skip
PAYLOADS = st.one_of(
    st.binary(max_size=200),
    MAPS.map(lambda m: msgpack.packb(m, use_bin_type=True)),
    MAPS.map(lambda m: msgpack.packb(m, use_bin_type=True)[: len(m)]),  # truncated
    MAPS.map(lambda m: msgpack.packb({"v": 1, "type": "batch", "orders": [m, m]})),
    MUTATED.map(lambda m: msgpack.packb(m, use_bin_type=True)),
    MUTATED.map(lambda m: json.dumps(m, default=repr).encode()),  # NaN as JSON's NaN
    MUTATED.map(lambda m: json.dumps(m, default=repr).encode()[: len(m) * 3]),  # truncated
)
CONTENT_TYPES = st.sampled_from([None, JSON_CONTENT_TYPE])
SOAK = settings(deadline=None, phases=[Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck))  # fmt: skip


def check(payload: bytes, content_type: str | None) -> None:
    for item in decode(payload, content_type):
        if isinstance(item, Rejection):
            assert item.code in WIRE_TEXT or (200 <= item.code < 300 and item.text)
        elif isinstance(item, NewOrder):
            assert 0 < item.quantity <= 10**12 and 0 <= item.price <= 10**12


@settings(max_examples=3000, deadline=None)
@given(PAYLOADS, CONTENT_TYPES)
def test_the_decoder_never_crashes_and_every_refusal_has_a_code(payload, content_type):
    check(payload, content_type)


def variants(payload: bytes, rng: random.Random) -> list[bytes]:
    """Return the payload, 49 of its prefixes and 50 copies with one byte changed: 100 cases."""
    cut = [payload[: rng.randint(0, len(payload))] for _ in range(49)]
    changed = []
    for _ in range(50):
        at = rng.randrange(len(payload) or 1)
        changed.append(payload[:at] + bytes([rng.randrange(256)]) + payload[at + 1 :])
    return [payload, *cut, *changed]


@pytest.mark.slow
@pytest.mark.soak
@settings(SOAK, max_examples=1000)
@given(PAYLOADS, CONTENT_TYPES, st.randoms(use_true_random=False))
def test_the_decoder_survives_100k_cases(payload, content_type, rng):
    for case in variants(payload, rng):
        check(case, content_type)


GOOD_ITEMS = st.fixed_dictionaries({
    "type": st.just("new"), "id": st.text(st.characters(min_codepoint=32, max_codepoint=126),
    min_size=1, max_size=32), "symbol": st.just("AAA"), "side": st.sampled_from(["buy", "sell"]),
    "qty": st.integers(1, 10**12), "price": st.integers(1, 10**12),
})  # fmt: skip
EDGES = st.sampled_from([0, -1, 10**12, 10**12 + 1, True, 1.0, "ab\n", "x" * 33, "", "BBB"])
ITEMS = st.builds(lambda item, field, value: {**item, field: value},
                  GOOD_ITEMS, st.sampled_from(FIELDS[1:]), VALUES | IDS | EDGES)  # fmt: skip


@settings(max_examples=2000, deadline=None)
@given(st.lists(GOOD_ITEMS | ITEMS, min_size=1, max_size=20))
def test_a_batch_item_decodes_as_the_same_request_alone(items):
    """A batch's common items take a shortcut past the field table: each item must come out
    exactly as the same request sent alone (the same request, or the same reason and text)."""
    batch = decode(msgpack.packb({"v": 1, "type": "batch", "orders": items}, use_bin_type=True))
    for item, request in zip(items, batch, strict=True):
        if item.get("type") in ("new", "cancel", "replace"):
            alone = decode(msgpack.packb({**item, "v": 1}, use_bin_type=True))
            assert [request] == alone, item


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"v": 1, "type": "new", "id": "a", "symbol": "AAA", "side": "buy", "qty": 0,
          "price": 1}, WireReason.OUT_OF_RANGE),
        ({"v": 1, "type": "new", "id": "a", "symbol": "AAA", "side": "buy", "qty": -5,
          "price": 1}, WireReason.OUT_OF_RANGE),
        ({"v": 1, "type": "new", "id": "a", "symbol": "AAA", "side": "buy", "qty": 2**63,
          "price": 1}, WireReason.OUT_OF_RANGE),
        ({"v": 1, "type": "new", "id": "a", "symbol": "AAA", "side": "buy", "qty": math.nan,
          "price": 1}, WireReason.WRONG_FIELD_TYPE),
        ({"v": 1, "type": "new", "id": "a", "symbol": "AAA", "side": "buy", "qty": "100",
          "price": 1}, WireReason.WRONG_FIELD_TYPE),
        ({"v": 1, "type": "new", "id": "a", "symbol": "AAA", "side": "up", "qty": 1,
          "price": 1}, WireReason.INVALID_VALUE),
        ({"v": 1, "type": "cancel", "id": "a", "color": "red"}, WireReason.UNKNOWN_FIELD),
        ({"v": 1, "type": "cancel", "id": "x" * 33}, 203),
        ({"v": 1, "type": "cancel", "id": "é"}, 203),
        ({"v": 2, "type": "cancel", "id": "a"}, WireReason.UNSUPPORTED_VERSION),
        ({"v": 1, "type": "wire_money"}, WireReason.UNKNOWN_TYPE),
        ({"v": 1, "type": "batch", "orders": []}, WireReason.BATCH_TOO_LARGE),
        ({"v": 1, "type": "batch", "orders": [{"type": "cancel", "id": "a"}] * (MAX_BATCH + 1)},
         WireReason.BATCH_TOO_LARGE),
    ],
)  # fmt: skip
def test_each_bad_field_has_its_reason_code(body, code):
    (item,) = decode(msgpack.packb(body))
    assert isinstance(item, Rejection) and item.code == code


def test_json_is_read_only_with_its_content_type():
    body = b'{"v": 1, "type": "cancel", "id": "a1"}'
    assert decode(body, JSON_CONTENT_TYPE)[0].id == "a1"
    assert decode(body)[0].code == WireReason.MALFORMED


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    """A gateway's venue without a broker (results are dropped): the order path alone."""
    config = parse_config({
        "board": "star", "session": {"date": "2025-03-03", "start": "10:00"},
        "instrument": [{"symbol": "AAA", "class": "equity", "previous_close": 100_000}],
        "participant": [{"name": "alice", "cash": 10**12, "shares": {"AAA": 10**6}}],
    })  # fmt: skip
    served = Gateway(config)
    served.receive(
        "t/v1/participants/alice/orders", encode(new_order("r", "AAA", "buy", 200, 99_000)), None
    )
    served.flush()
    return served


def changes_nothing_if_refused(gateway: Gateway, payload: bytes) -> None:
    before = gateway.exchange.digest()
    gateway.receive("techboard/v1/participants/alice/orders", payload, None)
    refused = all(isinstance(r, Rejection) for _, r in gateway.pending)
    gateway.flush()
    after = gateway.exchange.digest()
    if refused:
        assert {**after, "clock": 0} == {**before, "clock": 0}


@settings(
    max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(PAYLOADS)
def test_refused_messages_change_nothing_in_the_venue(gateway, payload):
    changes_nothing_if_refused(gateway, payload)


@pytest.mark.slow
@pytest.mark.soak
@settings(SOAK, max_examples=200)
@given(st.lists(PAYLOADS, min_size=50, max_size=50))
def test_10k_refused_messages_change_nothing_in_the_venue(gateway, payloads):
    for payload in payloads:
        changes_nothing_if_refused(gateway, payload)
