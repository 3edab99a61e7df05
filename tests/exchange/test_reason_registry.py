"""One registry of reason codes for the matching core and the venue."""

from __future__ import annotations

import pytest

from exchange.reasons import (
    REASON_TEXT,
    VENUE_TEXT,
    VenueReason,
    merge_registries,
    reason_name,
    reason_text,
)
from matching_engine.reasons import REASON_TEXT as CORE_TEXT
from matching_engine.reasons import Reason


def test_every_core_and_venue_code_has_text_in_one_registry():
    for code in [*Reason, *VenueReason]:
        assert reason_text(code) == REASON_TEXT[code]
    assert set(REASON_TEXT) == set(CORE_TEXT) | set(VENUE_TEXT)
    assert {int(c) for c in VenueReason} == set(VENUE_TEXT)


def test_venue_codes_start_at_200_and_fit_the_event_field():
    assert min(VenueReason) == 200
    assert max(VenueReason) <= 0xFFFF


def test_names_and_unknown_codes():
    assert reason_name(Reason.OFF_TICK) == "OFF_TICK"
    assert reason_name(VenueReason.HOLDER_CAP_REACHED) == "HOLDER_CAP_REACHED"
    assert reason_name(199) == "UNKNOWN"
    assert reason_text(9999) == "unknown reason code 9999"


def test_no_two_names_share_a_code():
    for enum in (Reason, VenueReason):
        assert len(enum.__members__) == len(list(enum)), enum


def test_codes_outside_their_layer_are_refused():
    with pytest.raises(ValueError, match=r"venue codes \[8, 150\] are outside 200..65535"):
        merge_registries({1: "core"}, {8: "clash", 150: "venue"})
    with pytest.raises(ValueError, match=r"core codes \[250\] are outside 0..199"):
        merge_registries({250: "core"}, {})
    with pytest.raises(ValueError, match=r"venue codes \[65536\]"):
        merge_registries({}, {65536: "too big for uint16"})
