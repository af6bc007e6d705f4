"""`assistant eval`: retrieval and answer quality on dated quiz questions with gold articles.

For each question (asked as of its date), the distinct articles of the ranked chunks give
recall@k and MRR against `gold_ids`; the quoted snippets give answer_hit@k (a gold answer
string, normalised, inside the top-k quotes); every quote is checked against its article.
"""
from __future__ import annotations

import json
import re
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import date as Date, timedelta
from pathlib import Path

from .archive import read_archive
from .build import build_index
from .cache import EmbeddingCache, default_cache_root
from .errors import AssistantError
from .pipeline import Assistant
from .retrieve import DateWindow

METHODS = ("dense", "bm25", "hybrid")
KS = (1, 5, 10)


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    date: str | None
    answers: tuple[str, ...]
    gold_ids: tuple[str, ...]

    @property
    def week(self) -> str:
        return self.id.split("_")[0]


@dataclass
class Tally:
    """Per-question outcomes for one method; `summary()` turns them into the metrics."""

    ranks: list[int | None] = field(default_factory=list)  # first gold rank, gold questions
    hits1: list[bool] = field(default_factory=list)
    hits3: list[bool] = field(default_factory=list)
    quotes: int = 0
    verbatim: int = 0
    abstained: int = 0
    questions: int = 0
    millis: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        ranks = self.ranks
        result = {f"recall@{k}": mean(r is not None and r <= k for r in ranks) for k in KS}
        result["mrr"] = mean(1.0 / r if r else 0.0 for r in ranks)
        result["answer_hit@1"] = mean(self.hits1)
        result["answer_hit@3"] = mean(self.hits3)
        result["verbatim"] = round(self.verbatim / self.quotes, 4) if self.quotes else None
        result["abstained"] = round(self.abstained / self.questions, 4) if self.questions else None
        result["questions"] = self.questions
        result["gold_questions"] = len(ranks)
        result["answerable_questions"] = len(self.hits1)
        result["ask_p50_ms"] = percentile(self.millis, 50)
        result["ask_p95_ms"] = percentile(self.millis, 95)
        return result


def mean(values) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 4) if values else None


def percentile(values: list[float], q: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))], 1)


def normalise(text: str) -> str:
    """Case, quotes, accents and punctuation folded away: '“Squid Game”' -> 'squid game'."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def read_questions(path: Path, weeks: set[str] | None = None, limit: int | None = None) -> list[Question]:
    questions = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                question = Question(record["id"], record["question"], record.get("date"),
                                    tuple(record.get("answers") or ()),
                                    tuple(record.get("gold_ids") or ()))
            except (ValueError, KeyError, TypeError) as error:
                raise AssistantError(f"{path}:{number}: not a question record ({error})") from None
            if weeks is None or question.week in weeks:
                questions.append(question)
    return questions[:limit] if limit else questions


def corpus_slice(articles, questions: list[Question], days: int | None):
    """Articles dated up to `days` before a question's date (and not after the last one);
    gold articles are always kept. None keeps the whole corpus."""
    if days is None:
        return articles
    dates = sorted(Date.fromisoformat(q.date) for q in questions if q.date)
    first, last = (dates[0] - timedelta(days=days)).isoformat(), dates[-1].isoformat()
    gold = {g for q in questions for g in q.gold_ids}
    return [a for a in articles if a.id in gold or (a.date and first <= a.date <= last)]


def ensure_index(articles, problems, index_dir: Path, embedder, cache: EmbeddingCache | None,
                 progress: bool) -> bool:
    """Build the index in `index_dir` unless it holds exactly these articles already.
    Returns True if it was rebuilt."""
    return not build_index(articles, problems, ["eval corpus"], index_dir, embedder,
                           progress=progress, cache=cache).unchanged


class MemoEmbed:
    """The embedder's `embed`, remembering texts: the methods compared quote the same sentences."""

    def __init__(self, embedder):
        self.embedder, self.memory = embedder, {}

    def __call__(self, texts):
        new = [t for t in dict.fromkeys(texts) if t not in self.memory]
        if new:
            self.memory.update(zip(new, self.embedder.embed(new)))
        import numpy as np

        return np.stack([self.memory[t] for t in texts])


def prepare(corpus: Path, questions_path: Path, index_dir: Path, embedder,
            weeks: set[str] | None = None, limit: int | None = None,
            corpus_days: int | None = None, progress: bool = False,
            cache_root: Path | None = None):
    """(questions, assistant over the indexed corpus slice, whether it was rebuilt)."""
    questions = read_questions(questions_path, weeks, limit)
    if not questions:
        raise AssistantError(f"no questions selected from {questions_path}")
    articles, problems = read_archive([corpus])
    articles = corpus_slice(articles, questions, corpus_days)
    cache = EmbeddingCache(cache_root or default_cache_root(), embedder.fingerprint)
    rebuilt = ensure_index(articles, problems, index_dir, embedder, cache, progress)
    assistant = Assistant(index_dir, embedder)
    assistant.warm_up()  # as a server does: many questions follow
    return questions, assistant, rebuilt


def evaluate(questions: list[Question], assistant: Assistant, methods=METHODS,
             progress: bool = False) -> dict:
    """Ask every question; one dict of metrics (see module docstring)."""
    started = time.monotonic()
    embedder = assistant.embedder
    data, embed = assistant.data, MemoEmbed(embedder)
    by_id = {a.id: a for a in data.articles}
    texts = {a.id: normalise(a.text) for a in data.articles}
    all_weeks = sorted({q.week for q in questions})
    tune_weeks = set(all_weeks[::2])
    runs = {m: Tally() for m in methods} | {"hybrid_without_as_of": Tally(),
                                            "tune": Tally(), "held_out": Tally()}
    order = ["hybrid"] + [m for m in methods if m != "hybrid"] + ["hybrid_without_as_of"]
    for question in iter_progress(questions, progress):
        answerable = any(normalise(a) in texts.get(g, "") for a in question.answers
                         for g in question.gold_ids)
        for name in order:  # the full system first, so its timing includes every embedding
            if not question.gold_ids and name != "hybrid":
                continue  # without gold, only abstention and latency can be measured
            method = name.split("_")[0]
            window = DateWindow(as_of=question.date if name == method else None)
            clock = time.perf_counter()
            result = assistant.ask(question.question, window=window, method=method, embed=embed)
            millis = (time.perf_counter() - clock) * 1000
            targets = [runs[name]] + ([runs["tune" if question.week in tune_weeks else "held_out"]]
                                      if name == "hybrid" else [])
            for tally in targets:
                record(tally, question, answerable, by_id, list(result.ranked), result, millis)
    report = runs["hybrid"].summary()
    report.update(
        methods={name: runs[name].summary() for name in methods},
        without_as_of=runs["hybrid_without_as_of"].summary(),
        splits={"tune_weeks": sorted(tune_weeks), "tune": runs["tune"].summary(),
                "held_out": runs["held_out"].summary()},
        corpus={"articles": len(data.articles), "chunks": int(len(data.chunks))},
        seconds=round(time.monotonic() - started, 1),
    )
    return report


def record(tally: Tally, question: Question, answerable: bool, by_id: dict, ranked: list[str],
           result, millis: float) -> None:
    tally.questions += 1
    tally.millis.append(millis)
    tally.abstained += not result.found
    for snippet in result.snippets:
        tally.quotes += 1
        tally.verbatim += by_id[snippet.article_id].text[snippet.start:snippet.end] == snippet.quote
    if question.gold_ids:
        gold_ranks = [ranked.index(g) + 1 for g in question.gold_ids if g in ranked]
        tally.ranks.append(min(gold_ranks) if gold_ranks else None)
    if answerable:
        tally.hits1.append(holds_answer(question, result.snippets[:1]))
        tally.hits3.append(holds_answer(question, result.snippets[:3]))


def holds_answer(question: Question, snippets) -> bool:
    """True when a gold answer, normalised, is inside one of the quotes."""
    answers = [normalise(a) for a in question.answers]
    return any(a in normalise(s.quote) for a in answers for s in snippets)


def iter_progress(items, progress: bool):
    if not progress:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="questions", unit="q")


def format_report(report: dict) -> str:
    """A small table: one row per method, then the full system with and without as-of."""
    columns = ["recall@1", "recall@5", "recall@10", "mrr", "answer_hit@1", "answer_hit@3",
               "abstained", "ask_p50_ms", "ask_p95_ms"]
    rows = [(f"{name} (as of)", summary) for name, summary in report["methods"].items()]
    rows += [("hybrid, no as-of", report["without_as_of"]),
             ("hybrid, tune weeks", report["splits"]["tune"]),
             ("hybrid, held-out weeks", report["splits"]["held_out"])]
    lines = ["| run | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += ["| " + name + " | " + " | ".join(str(summary.get(c)) for c in columns) + " |"
              for name, summary in rows]
    lines.append(f"\n{report['questions']} questions ({report['gold_questions']} with gold), "
                 f"verbatim {report['verbatim']}, corpus {report['corpus']['articles']} articles "
                 f"/ {report['corpus']['chunks']} chunks, {report['seconds']} s")
    return "\n".join(lines)
