"""`assistant bench`: how fast the project indexes and answers, measured against a baseline.

Everything is measured in one process on the same inputs, so the ratios survive a busy
machine: embedding throughput of the project's Embedder against a plain fp32
`SentenceTransformer.encode` loop (their runs interleaved), dense and hybrid recall@5 of
both on a slice of the dev set, a full build against an incremental rebuild after 1% new
articles, and `ask` latency and memory per chunk on indexes of growing size
(bench_scale.py).
"""
from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import date as Date, timedelta
from pathlib import Path

from .archive import read_archive
from .bench_scale import scale_report
from .build import build_index
from .cache import EmbeddingCache
from .chunking import chunk_article, embedding_text
from .dense import EXACT_BELOW
from .embed import Embedder
from .evaluate import Question, read_questions
from .index import load_index
from .pipeline import ranked_articles
from .retrieve import DateWindow, retrieve
from . import store


@dataclass(frozen=True)
class BenchSettings:
    """What `assistant bench` measures on; `QUICK` is the short run for CI."""

    corpus: Path
    questions: Path
    week_step: int = 2  # every n-th dev week (the eval's tune weeks)
    max_weeks: int | None = None
    max_articles: int | None = None  # gold articles first, then by date
    days_before: int = 0  # articles dated up to n days before a question's date (+ gold)
    throughput_chunks: int = 256
    rounds: int = 4
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    exact_below: int = EXACT_BELOW
    asks: int = 100  # p95 of 100 questions: a single stall on a shared machine does not set it

    def quick(self) -> "BenchSettings":
        return replace(self, max_weeks=1, max_articles=12, throughput_chunks=24, rounds=2,
                       sizes=(2_000, 6_000), exact_below=5_000, asks=5)


def dev_slice(settings: BenchSettings):
    """(questions with gold articles, articles) of the chosen dev weeks."""
    questions = read_questions(settings.questions)
    weeks = sorted({q.week for q in questions})[::settings.week_step][:settings.max_weeks]
    questions = [q for q in questions if q.week in weeks and q.gold_ids and q.date]
    articles, _ = read_archive([settings.corpus])
    gold = {g for q in questions for g in q.gold_ids}
    days = {(Date.fromisoformat(q.date) - timedelta(days=n)).isoformat()
            for q in questions for n in range(settings.days_before + 1)}
    chosen = sorted((a for a in articles if a.id in gold or a.date in days),
                    key=lambda a: (a.id not in gold, a.date or "", a.id))
    return questions, chosen[:settings.max_articles]


def chunk_texts(articles) -> list[str]:
    return [embedding_text(a, c) for a in articles for c in chunk_article(a)]


def embed_throughput(project, baseline, texts: list[str], rounds: int) -> dict:
    """Chunks a second of each embedder over the same texts, in `rounds` interleaved
    parts (which goes first alternates), after a warm-up that loads both models."""
    for embedder in (project, baseline):
        embedder.embed(texts[:2])
    seconds = {"project": 0.0, "baseline": 0.0}
    for part in range(rounds):
        order = [("project", project), ("baseline", baseline)]
        for name, embedder in order[::1 if part % 2 == 0 else -1]:
            clock = time.perf_counter()
            embedder.embed(texts[part::rounds])
            seconds[name] += time.perf_counter() - clock
    rates = {name: len(texts) / s for name, s in seconds.items()}
    return {"chunks": len(texts), "project_chunks_per_s": round(rates["project"], 2),
            "baseline_chunks_per_s": round(rates["baseline"], 2),
            "embed_speedup": round(rates["project"] / rates["baseline"], 3)}


def recall_at_5(index_dir: Path, embedder, questions: list[Question], method: str) -> float:
    """Share of questions (asked as of their date) whose gold article is among the first
    five distinct articles retrieved: the eval's recall@5, without the answer step."""
    data = load_index(store.current_version(index_dir), embedder.name, embedder.fingerprint)
    vectors = embedder.embed([q.question for q in questions])
    found = 0
    for question, vector in zip(questions, vectors):
        hits = retrieve(data, vector, question.question, window=DateWindow(as_of=question.date),
                        method=method)
        found += any(g in ranked_articles(data, hits)[:5] for g in question.gold_ids)
    return round(found / len(questions), 4)


def incremental_cost(articles, index_dir: Path, embedder) -> dict:
    """A full build of the archive without its newest 1% of articles, then the rebuild
    that adds them (reusing every other vector). Leaves the full index in `index_dir`."""
    newest = sorted(range(len(articles)), key=lambda i: (articles[i].date or "", i))
    new = set(newest[-max(1, len(articles) // 100):])
    full = build_index([a for i, a in enumerate(articles) if i not in new], [], ["bench"],
                       index_dir, embedder)
    incremental = build_index(articles, [], ["bench"], index_dir, embedder)
    return {"full_build_s": round(full.seconds, 2), "full_build_chunks": full.chunks,
            "incremental_s": round(incremental.seconds, 2),
            "incremental_embedded": incremental.embedded, "new_articles": len(new),
            "incremental_cost_ratio": round(incremental.seconds / full.seconds, 4)}


def run_bench(settings: BenchSettings, cache_root: Path, project=None, baseline=None,
              progress=None) -> dict:
    """Every figure of the benchmark in one dict; TARGETS names the headline keys.

    `cache_root` keeps the baseline's vectors between runs (it never changes); the
    project's are always computed anew, by the full build being timed."""
    say = progress or (lambda message: None)
    project = project or Embedder()
    baseline = baseline or Embedder(precision="fp32")
    questions, articles = dev_slice(settings)
    texts = chunk_texts(articles)
    say(f"dev slice: {len(questions)} questions, {len(articles)} articles, {len(texts)} chunks")
    sample = random.Random(0).sample(texts, min(settings.throughput_chunks, len(texts)))
    report = embed_throughput(project, baseline, sample, settings.rounds)
    say(f"embedding: {report}")
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        work = Path(work)
        report.update(incremental_cost(articles, work / "project", project))
        say(f"incremental: {report['incremental_cost_ratio']}")
        build_index(articles, [], ["bench"], work / "baseline", baseline,
                    cache=EmbeddingCache(cache_root / "baseline-fp32", baseline.fingerprint))
        for method in ("dense", "hybrid"):
            ours, theirs = (recall_at_5(work / side, embedder, questions, method)
                            for side, embedder in (("project", project), ("baseline", baseline)))
            report[f"{method}_recall5"] = {"project": ours, "baseline": theirs}
        report["recall5_delta"] = round(report["dense_recall5"]["project"]
                                        - report["dense_recall5"]["baseline"], 4)
        say(f"recall: {report['recall5_delta']}")
        data = load_index(store.current_version(work / "project"), project.name,
                          project.fingerprint)
        report.update(scale_report(data, work / "project", questions, settings.sizes,
                                   settings.exact_below, settings.asks, work / "scale",
                                   project, say))
    report["settings"] = {"questions": len(questions), "articles": len(articles),
                          "chunks": len(texts), "precision": project.precision,
                          "sizes": list(settings.sizes), "exact_below": settings.exact_below}
    return report


TARGETS = {"embed_speedup": ">= 3.0", "recall5_delta": ">= -0.01",
           "incremental_cost_ratio": "<= 0.03", "ask_p95_over_embed_1m": "<= 2.0",
           "bytes_per_chunk_1m": "<= 600"}


def format_bench(report: dict) -> str:
    """The headline figures against their targets, then one row per index size."""
    lines = ["| figure | measured | target |", "|---|---|---|"]
    lines += [f"| {key} | {report[key]} | {target} |" for key, target in TARGETS.items()]
    lines += ["", f"embedding: project {report['project_chunks_per_s']} chunks/s "
              f"({report['settings']['precision']}), baseline {report['baseline_chunks_per_s']} "
              f"chunks/s (fp32) over {report['chunks']} chunks; recall@5 dense "
              f"{report['dense_recall5']}, hybrid {report['hybrid_recall5']}",
              f"rebuild: full {report['full_build_s']} s ({report['full_build_chunks']} chunks), "
              f"after {report['new_articles']} new articles {report['incremental_s']} s "
              f"({report['incremental_embedded']} chunks embedded)", "",
              "| chunks | index | ask p50 / p95 ms | embed query p50 / p95 ms | search p95 ms "
              "| bytes/chunk: loaded, asked (private) | recall@10 / @100 vs exact |",
              "|---|---|---|---|---|---|---|"]
    for size, row in report["scale"].items():
        lines.append(f"| {int(size):,} | {row['index']} | {row['ask_p50_ms']} / "
                     f"{row['ask_p95_ms']} | {row['embed_p50_ms']} / {row['embed_p95_ms']} | "
                     f"{row['search_p95_ms']} | {row['bytes_per_chunk_loaded']}, "
                     f"{row['bytes_per_chunk']} ({row['private_bytes_per_chunk']}) | "
                     f"{row['dense_recall10_vs_exact']} / {row['dense_recall100_vs_exact']} |")
    lines.append("")
    lines += [f"switch to a new version at {int(size):,} chunks: served after {row['switch_s']} "
              f"s; {row['switch_asks']} asks meanwhile, p50 / p95 / max "
              f"{row['switch_ask_p50_ms']} / {row['switch_ask_p95_ms']} / "
              f"{row['switch_ask_max_ms']} ms" for size, row in report["scale"].items()]
    return "\n".join(lines)
