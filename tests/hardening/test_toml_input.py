"""Every TOML reader on hostile files: a one-line error naming the file, or a correct load.

Starting from each shipped file, hypothesis swaps an integer for a huge, non-finite or unicode
number, inserts random bytes, truncates the file, adds a BOM or CRLF line ends. The readers
(board, fee schedule, firm, support measures, calendar, instrument terms) must either load it,
with every integer they keep inside the stated bound and the costs of a firm computable, or
raise their own error (SchemaError, TermsError) whose message is one line starting with the file.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.fees import listing_costs, schedule
from exchange.rules import boards
from exchange.rules.calendar import TradingCalendar
from exchange.schema import MAX_INTEGER, SchemaError
from instruments.terms import TermsError, example_path, load_terms

ROOT = Path(__file__).resolve().parents[2]


def load_firm_and_cost(path: Path) -> object:
    firm = listing_costs.load_firm(path)
    lines = listing_costs.costs(firm, {"techboard": schedule.load_schedule("techboard")}, 3)
    assert all(isinstance(x, int) for line in lines for x in dataclasses.astuple(line)
               if isinstance(x, int | float) and not isinstance(x, bool))  # fmt: skip
    return firm


READERS: dict[str, tuple[Path, Callable[[Path], object], type[Exception]]] = {
    "board": (ROOT / "exchange/rules/boards/techboard.toml", boards.load_board, SchemaError),
    "fee schedule": (ROOT / "exchange/fees/schedules/standard.toml", schedule.load_schedule,
                     SchemaError),
    "firm": (ROOT / "exchange/fees/firms/example.toml", load_firm_and_cost, SchemaError),
    "support": (ROOT / "exchange/fees/support/jilin.toml", listing_costs.load_support,
                SchemaError),
    "calendar": (ROOT / "exchange/rules/calendars/cn.toml", TradingCalendar.load, SchemaError),
    "convertible": (example_path("convertible.toml"), load_terms, TermsError),
    "preferred": (example_path("preferred.toml"), load_terms, TermsError),
}  # fmt: skip
INTEGER = re.compile(rb"(?m)^[ \t]*[A-Za-z_][\w.]*[ \t]*=[ \t]*\[?(-?[0-9][0-9_]*)\b(?![-:])")
REPLACEMENTS = [
    str(2**70), str(-(2**70)), str(2**63), str(MAX_INTEGER + 1), str(MAX_INTEGER), "0", "-1",
    "inf", "-inf", "nan", "1e400", "0.5", "²", "１０", '"10"', "true", "[]", "{}",
]  # fmt: skip


def integers(text: bytes) -> list[re.Match]:
    return list(INTEGER.finditer(text))


def mutate(data: bytes, draw, pattern: re.Pattern = INTEGER, replacements=REPLACEMENTS) -> bytes:
    """Return the file with one hostile change and, sometimes, a BOM or CRLF line ends: a
    number (group 1 of `pattern`) swapped for one of `replacements`, random bytes inserted, or
    the file cut short."""
    found = list(pattern.finditer(data))
    how = draw(st.sampled_from(["number", "number", "bytes", "truncate"]))
    if how == "number" and found:
        match = found[draw(st.integers(0, len(found) - 1))]
        new = draw(st.sampled_from(replacements)).encode()
        data = data[: match.start(1)] + new + data[match.end(1) :]
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


def every_int(value, seen=None) -> list[int]:
    """Return every integer held in a loaded object (dataclasses, mappings, sequences)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if dataclasses.is_dataclass(value):
        return [i for f in dataclasses.fields(value) for i in every_int(getattr(value, f.name))]
    if isinstance(value, dict) or hasattr(value, "items"):
        return [i for v in value.values() for i in every_int(v)]
    if isinstance(value, list | tuple):
        return [i for v in value for i in every_int(v)]
    return []


def check(kind: str, data: bytes, tmp_path: Path) -> None:
    source, reader, error_class = READERS[kind]
    path = tmp_path / source.name
    path.write_bytes(data)
    try:
        loaded = reader(path)
    except error_class as error:
        message = str(error)
        assert "\n" not in message and message.startswith(str(path)), message
        return
    assert all(abs(i) <= MAX_INTEGER for i in every_int(loaded))


@pytest.mark.parametrize("kind", list(READERS))
def test_the_shipped_file_loads(kind, tmp_path):
    check(kind, READERS[kind][0].read_bytes(), tmp_path)


@pytest.mark.parametrize("examples", [40, pytest.param(500, marks=pytest.mark.slow)])
@pytest.mark.parametrize("kind", list(READERS))
def test_a_mangled_file_errs_in_one_line_or_loads_within_bounds(kind, examples, tmp_path):
    original = READERS[kind][0].read_bytes()

    @settings(max_examples=examples, deadline=None)
    @given(data=st.data())
    def mangled(data: st.DataObject) -> None:
        check(kind, mutate(original, data.draw), tmp_path)

    mangled()


@pytest.mark.parametrize(
    ("kind", "replacement", "message"),
    [
        ("board", str(2**70), "allowed: an integer from -9,007,199,254,740,991"),
        ("firm", "inf", "expected an integer"),
        ("convertible", str(2**70), "is out of range; allowed: -9,007,199,254,740,991"),
    ],
)
def test_a_huge_or_non_finite_number_names_file_line_and_field(
    kind, replacement, message, tmp_path
):
    source, reader, error_class = READERS[kind]
    data = source.read_bytes()
    first = integers(data)[0]
    line = data.count(b"\n", 0, first.start(1)) + 1
    path = tmp_path / source.name
    path.write_bytes(data[: first.start(1)] + replacement.encode() + data[first.end(1) :])
    with pytest.raises(error_class) as raised:
        reader(path)
    assert str(raised.value).startswith(f"{path} line {line}: ")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("line", "where"),
    [('extends = "\\tregional"', "line 1: unknown board preset"),
     ('extends = "regional"\nfee_schedule = "no-such"', "line 2: unknown fee schedule preset")],
)  # fmt: skip
def test_an_unknown_preset_a_board_names_is_placed_in_its_file(tmp_path, line, where):
    path = tmp_path / "mine.toml"
    path.write_text(line + "\n")
    with pytest.raises(SchemaError) as error:
        boards.load_board(path)
    assert str(error.value).startswith(f"{path} {where}")


@pytest.mark.parametrize("zone", [" Asia/Shanghai", "Mars/Olympus", "../etc/passwd", ""])
def test_a_time_zone_that_is_not_one_is_a_schema_error(zone, tmp_path):
    source = READERS["calendar"][0]
    path = tmp_path / source.name
    text = source.read_text()
    assert text.count('timezone = "Asia/Shanghai"') == 1
    path.write_text(text.replace('timezone = "Asia/Shanghai"', f'timezone = "{zone}"'))
    with pytest.raises(SchemaError, match=rf"^{path}.*{zone!r} is not an IANA time zone"):
        TradingCalendar.load(path)
