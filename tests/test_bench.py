"""`assistant bench --quick` in-process: every headline key, with sane values (no timing
thresholds: the machine is shared)."""
from __future__ import annotations

import pytest

from assistant.bench import TARGETS, BenchSettings, format_bench, run_bench
from conftest import SHARED_DATA


@pytest.mark.slow
def test_quick_bench_reports_every_figure(tmp_path):
    if not (SHARED_DATA / "corpus.jsonl").is_file():
        pytest.skip("the dev set ../shared/data/news-qa-2022 is not here")
    settings = BenchSettings(SHARED_DATA / "corpus.jsonl", SHARED_DATA / "questions.jsonl")
    report = run_bench(settings.quick(), tmp_path / "cache")
    assert set(TARGETS) <= set(report)
    assert 0 < report["embed_speedup"] < 50
    assert -1 <= report["recall5_delta"] <= 1
    assert 0 <= report["dense_recall5"]["baseline"] <= 1
    assert 0 < report["incremental_cost_ratio"] < 1
    assert report["incremental_embedded"] < report["full_build_chunks"]
    assert report["ask_p95_over_embed_1m"] > 0 and report["bytes_per_chunk_1m"] > 0
    sizes = report["scale"]
    assert sizes["2000"]["index"] == "IndexFlatIP"
    assert sizes["6000"]["index"] == "IndexIVFScalarQuantizer"
    assert 0 < sizes["6000"]["dense_recall10_vs_exact"] <= 1
    for row in sizes.values():  # a switch to a new version was served, and asks answered
        assert row["switch_asks"] >= 1 and row["switch_s"] > 0 and row["switch_ask_max_ms"] > 0
    assert "| embed_speedup |" in format_bench(report)
