"""The demos' helpers: the process-wide memo (one computation per arguments, shared by
redefinitions) and the static table."""

from __future__ import annotations

from techboard.demos import memo
from techboard.demos.text import grid


def test_a_result_is_computed_once_and_shared_by_a_redefinition():
    calls = []

    def square(x: int) -> int:
        calls.append(x)
        return x * x

    first, again = memo.shared(square), memo.shared(square)  # two sessions define it
    assert [first(3), again(3), first(4)] == [9, 9, 16]
    assert calls == [3, 4]


def test_the_oldest_results_go_first():
    calls = []

    def echo(x: int) -> int:
        calls.append(x)
        return x

    kept = memo.shared(echo)
    for x in range(memo.KEPT + 1):
        kept(x)
    kept(memo.KEPT)
    kept(0)
    assert calls == [*range(memo.KEPT + 1), 0]


def test_a_grid_is_a_table_with_the_keys_as_header():
    html = grid([{"价格 price": "10.01", "queue": "S2 | S3"}, {"价格 price": "10.02", "queue": ""}])
    assert html.text.count("<tr>") == 3
    assert "<th>价格 price</th>" in html.text
    assert "S2 | S3" in html.text  # a bar in a cell stays in its cell
