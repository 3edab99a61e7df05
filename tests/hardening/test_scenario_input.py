"""Scenario files on hostile input: a one-line ScenarioError naming the file (and the line where
the TOML itself is broken, the key where a value is), or a scenario that loads.

Starting from each shipped scenario, hypothesis makes the changes of test_toml_input.mutate:
a number swapped for a huge, non-finite or unicode one, random bytes inserted, the file cut
short, a BOM, CRLF line ends.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_toml_input import integers, mutate

from simulation.scenario import SCENARIO_DIR, ScenarioError, load_scenario

SHIPPED = sorted(SCENARIO_DIR.glob("*.toml"))


def check(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_bytes(data)
    try:
        load_scenario(path)
    except ScenarioError as error:
        message = str(error)
        assert "\n" not in message, message
        assert message.startswith((str(path), str(SCENARIO_DIR))), message
        if "not TOML" in message:
            assert " line " in message or "end of document" in message, message


@pytest.mark.parametrize("examples", [40, pytest.param(250, marks=pytest.mark.soak)])
@pytest.mark.parametrize("shipped", SHIPPED, ids=lambda p: p.stem)
def test_a_mangled_scenario_errs_in_one_line_or_loads(shipped, examples, tmp_path):
    original = shipped.read_bytes()

    @settings(max_examples=examples, deadline=None)
    @given(data=st.data())
    def mangled(data: st.DataObject) -> None:
        check(mutate(original, data.draw), tmp_path)

    mangled()


def test_a_file_that_is_not_utf8_is_a_scenario_error(tmp_path):
    path = tmp_path / "scenario.toml"
    path.write_bytes(b"\x80" + (SCENARIO_DIR / "rmsc-like.toml").read_bytes())
    with pytest.raises(ScenarioError, match=rf"^{path} line 1: byte 0x80 is not UTF-8 text$"):
        load_scenario(path)


def test_a_broken_line_is_named(tmp_path):
    data = (SCENARIO_DIR / "rmsc-like.toml").read_bytes()
    first = integers(data)[0]
    line = data.count(b"\n", 0, first.start(1)) + 1
    path = tmp_path / "scenario.toml"
    path.write_bytes(data[: first.start(1)] + b"1e400e" + data[first.end(1) :])
    with pytest.raises(ScenarioError, match=rf"^{path}: not TOML: .*line {line}"):
        load_scenario(path)
