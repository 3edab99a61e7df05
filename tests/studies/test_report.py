"""The report: HTML with embedded charts and every section; Markdown; stylized facts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic_records import simulate_synthetic

from studies.compare import compare
from studies.report import ScenarioInfo, legal_status, write_report
from studies.runner import ScenarioSpec, run_study
from studies.stylized import Sample, autocorrelation, distances, hill, lobster_sample

LOBSTER = Path(__file__).resolve().parents[3] / "shared" / "data" / "lobster"
INFOS = [ScenarioInfo("today", "negotiated", "regional"), ScenarioInfo("star", "ref", "star")]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    specs = [ScenarioSpec(i.name, f"name = '{i.name}'\n") for i in INFOS]
    outcomes = run_study(
        specs, range(3), out, workers=1, simulator=simulate_synthetic, progress=None
    )
    return out, outcomes, compare(outcomes, "today")


def test_html_report_is_self_contained(study):
    out, outcomes, rows = study
    real = lobster_sample(LOBSTER)
    path = write_report(out, INFOS, outcomes, rows, baseline="today", real=real)
    text = path.read_text()
    assert path.name == "index.html"
    assert text.count("data:image/png;base64,") == 3
    for heading in (
        "comparison",
        "legal status",
        "stylized facts",
        "what each metric means",
        "turnover elasticity",
        "First North",
    ):
        assert heading in text
    assert "needs a national policy change" in text
    if real is not None:
        assert "distance to the real market" in text


def test_markdown_report_without_a_real_market(study):
    out, outcomes, rows = study
    path = write_report(out, INFOS, outcomes, rows, baseline="today", real=None, fmt="markdown")
    text = path.read_text()
    assert "the real-market column is absent" in text
    assert "![price paths](chart-0.png)" in text and (out / "chart-0.png").exists()


def test_legal_status_follows_the_board():
    assert legal_status("regional").startswith("compliant")
    assert legal_status("techboard-mm").startswith("counterfactual")


def test_stylized_fact_estimators():
    # Pareto tail with index 3: Hill recovers about 3
    rng = np.random.default_rng(1)
    pareto = rng.pareto(3.0, 200_000) + 1
    assert hill(pareto, 0.05) == pytest.approx(3.0, rel=0.1)
    alternating = np.tile([1.0, -1.0], 50)
    assert autocorrelation(alternating, 2) == pytest.approx([-0.99, 0.98], abs=0.01)
    same = Sample("a", rng.normal(size=500), rng.normal(10, 1, 500))
    assert distances(same, same) == {
        "tails_ks": 0.0,
        "acf_returns_w": 0.0,
        "acf_abs_returns_w": 0.0,
        "spread_ks": 0.0,
    }
