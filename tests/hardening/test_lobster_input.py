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

from matching_engine.lobster import read_lobster

CASES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "lobster-cases"
NUMBER = re.compile(rb"(?<![\w.])-?\d+(?:\.\d+)?")
REPLACEMENTS = [b"nan", b"inf", b"-inf", b"1e400", str(2**70).encode(), b"0.5", b"-7",
                "²".encode(), "１０".encode(), b"abc", b""]  # fmt: skip

pytestmark = pytest.mark.skipif(not CASES.is_dir(), reason=f"no {CASES}")


def mangle(data: bytes, draw) -> bytes:
    """Return the file with one hostile change and, sometimes, a BOM or CRLF line ends."""
    how = draw(st.sampled_from(["number", "number", "bytes", "truncate"]))
    found = list(NUMBER.finditer(data))
    if how == "number" and found:
        match = found[draw(st.integers(0, len(found) - 1))]
        data = data[: match.start()] + draw(st.sampled_from(REPLACEMENTS)) + data[match.end() :]
    elif how == "bytes":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    else:
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.booleans()):
        data = data.replace(b"\n", b"\r\n")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data


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
        path.write_bytes(mangle(raw, data.draw) if k == which else raw)
    try:
        sample = read_lobster(*paths)
    except ValueError as error:
        message = str(error)
        assert "\n" not in message and message.startswith(str(tmp_path)), message
        return
    assert (sample.size >= 0).all() and (sample.size < 2**32).all()
    assert (abs(sample.book) <= 9_999_999_999).all()
    assert set(sample.direction.tolist()) <= {-1, 1}
