"""LOBSTER files on hostile input: a one-line error naming the file (and the line and field
where there is one), or a replay equal to the clean file's. Starting from the shipped cases,
hypothesis swaps a number for a huge, non-finite, fractional or unicode one, inserts random
bytes, truncates the file, adds a BOM or CRLF line ends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_toml_input import mutate

from matching_engine.lobster import read_lobster

CASES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "lobster-cases"
NUMBER = re.compile(rb"(?<![\w.])(-?\d+(?:\.\d+)?)")
REPLACEMENTS = ["nan", "inf", "-inf", "1e400", str(2**70), "0.5", "-7", "²", "１０", "abc", ""]

pytestmark = pytest.mark.skipif(not CASES.is_dir(), reason=f"no {CASES}")


@pytest.mark.parametrize("case", ["case1", "case2"])
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_mangled_lobster_file_errs_in_one_line_or_reads_clean_numbers(case, tmp_path, data):
    level = case[-1]
    sources = [CASES / f"{case}_message_{level}.csv", CASES / f"{case}_orderbook_{level}.csv"]
    which = data.draw(st.integers(0, 1))
    paths = [tmp_path / source.name for source in sources]
    for k, (source, path) in enumerate(zip(sources, paths, strict=True)):
        raw = source.read_bytes()
        path.write_bytes(mutate(raw, data.draw, NUMBER, REPLACEMENTS) if k == which else raw)
    try:
        sample = read_lobster(*paths)
    except ValueError as error:
        message = str(error)
        assert "\n" not in message and message.startswith(str(tmp_path)), message
        return
    assert (sample.size >= 0).all() and (sample.size < 2**32).all()
    assert (abs(sample.book) <= 9_999_999_999).all()
    assert set(sample.direction.tolist()) <= {-1, 1}
