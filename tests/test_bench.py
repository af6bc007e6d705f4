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


def test_rebuild_bench_times_a_rebuild_of_the_corpus_repeated(tmp_path, capsys):
    """`bench --rebuild-copies`: the corpus repeated, its copies no near duplicates of
    each other (or the near-duplicate search would do other work than at scale)."""
    import json

    from assistant.bench_rebuild import copies_of
    from assistant.cli import main
    from assistant.dedup import find_clusters
    from assistant.types import Article

    wire = ("The harbour bridge reopened on Monday after two years of repairs, the mayor "
            "said, and traffic returned to normal by noon. ") * 3
    articles = [Article(f"a{n}", f"Story {n}", f"{wire} Item {n} of the day.",
                        date=f"2022-03-{n + 1:02d}") for n in range(12)]
    assert len(find_clusters(articles)) == 1  # the originals are copies of one story
    repeated = copies_of(articles, 3)
    assert [a.id for a in repeated[12:14]] == ["a0-q1", "a1-q1"]
    assert repeated[12].text.startswith("Theq1 harbourq1 bridgeq1")
    assert len(find_clusters(repeated)) == 3  # one story a copy, not one for all
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": a.id, "title": a.title, "date": a.date,
                                          "text": a.text}) + "\n" for a in articles))
    assert main(["bench", "--rebuild-copies", "3", "--corpus", str(corpus), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["rebuild_scale"]
    assert (row["copies"], row["articles"], row["new_articles"]) == (3, 36, 1)
    assert 0 < row["incremental_embedded"] < row["full_build_chunks"]
    assert row["full_build_s"] > 0 and row["incremental_s"] > 0
