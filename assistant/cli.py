"""`assistant index | ask | serve | eval | bench | load`: parse, call one library function,
format. The only module that prints or exits."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .ask_text import check_dates, format_answer, named_facets, terminal_safe
from .errors import AssistantError
from .retrieve import DateWindow

DEFAULT_ARCHIVE = Path("archive")
DEFAULT_INDEX = Path("index")
DEV_SET = Path("../shared/data/news-qa-2022")


def iso_date(value: str) -> str:
    from datetime import date

    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2022-09-28") from None


def positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return int(value)


def port_number(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number from 1 to 65535")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description=(
        "Question answering over a news archive: verbatim, cited quotes, never invented text."))
    commands = parser.add_subparsers(dest="command", required=True)
    env_index = Path(os.environ.get("ASSISTANT_INDEX", DEFAULT_INDEX))

    index = commands.add_parser("index", help="rebuild the index from the archive")
    index.add_argument("--archive", type=Path, action="append",
                       help="archive file or folder (repeatable; default: archive/)")
    index.add_argument("--index", type=Path, default=env_index,
                       help="index folder (default: index/)")
    index.add_argument("--check", action="store_true",
                       help="verify the index in service (manifest, model, checksums) "
                       "without rebuilding it")
    index.add_argument("--threads", type=positive_int, help="CPU threads for embedding "
                       "(default: all cores; use 1 beside a running `assistant serve`)")

    ask = commands.add_parser("ask", help="answer a question with cited quotes")
    ask.add_argument("question")
    ask.add_argument("--index", type=Path, default=env_index)
    ask.add_argument("-k", type=positive_int, default=3, help="most quotes to return (default 3)")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument("--as-of", type=iso_date, help="answer from articles up to this date, "
                     "preferring the most recent")
    ask.add_argument("--timeline", action="store_true", help="one dated quote per story, "
                     "oldest first (also chosen for questions like 'What happened with X?')")
    ask.add_argument("--no-read-dates", dest="read_dates", action="store_false",
                     help="do not read a date window from the question's words")
    ask.add_argument("--since", type=iso_date, help="only articles published on or after")
    ask.add_argument("--until", type=iso_date, help="only articles published on or before")
    ask.add_argument("--source", dest="sources", action="append", default=[],
                     help="only articles from this source (repeatable)")
    ask.add_argument("--category", dest="categories", action="append", default=[],
                     help="only articles in this category (repeatable)")

    evaluate = commands.add_parser("eval", help="measure retrieval and answer quality")
    evaluate.add_argument("--corpus", type=Path, required=True, help="articles, JSON lines")
    evaluate.add_argument("--questions", type=Path, required=True, help="questions, JSON lines")
    evaluate.add_argument("--index", type=Path, help="index folder for the corpus "
                          "(default: a folder in the user cache, reused when it matches)")
    evaluate.add_argument("--limit", type=positive_int, help="only the first N questions")
    evaluate.add_argument("--weeks", help="only these weeks, e.g. 20220617,20220624 "
                          "(question ids start with their week)")
    evaluate.add_argument("--corpus-days", type=positive_int, help="index only articles dated "
                          "up to N days before the questions (gold articles always kept)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--calibrate", action="store_true", help="instead, choose the "
                          "'found' threshold: these questions asked of the corpus vs of an "
                          "archive about something else")
    evaluate.add_argument("--offtopic-archive", type=Path, action="append",
                          help="the archive about something else (default: archive/)")

    load = commands.add_parser("load", help="drive a running chat with concurrent clients "
                               "and report requests, errors and latency (this machine only)")
    load.add_argument("--url", default="http://127.0.0.1:7860", help="a loopback address")
    load.add_argument("--clients", type=positive_int, default=20, help="default 20")
    load.add_argument("--seconds", type=positive_int, default=60, help="default 60")
    load.add_argument("--endpoint", default="ask", help="Gradio API name (default: ask)")
    load.add_argument("--json", action="store_true", help="print one JSON object")

    bench = commands.add_parser("bench", help="measure indexing and asking speed against "
                                "a plain fp32 baseline (README, \"Performance\")")
    bench.add_argument("--corpus", type=Path, default=DEV_SET / "corpus.jsonl")
    bench.add_argument("--questions", type=Path, default=DEV_SET / "questions.jsonl")
    bench.add_argument("--quick", action="store_true", help="small sizes, for CI")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--rebuild-copies", type=positive_int, metavar="N",
                       help="instead, time what a rebuild does besides embedding, on the "
                       "corpus repeated N times")

    serve = commands.add_parser("serve", help="serve the web chat")
    serve.add_argument("--index", type=Path, default=env_index)
    serve.add_argument("--archive", type=Path, action="append",
                       help="archive to index first if there is no index yet (default: archive/)")
    serve.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    serve.add_argument("--port", type=port_number, default=7860, help="default 7860")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"index": run_index, "bench": run_bench, "ask": run_ask, "eval": run_eval,
                "serve": run_serve, "load": run_load}[args.command](args)
    except AssistantError as error:
        print(f"error: {error}", file=sys.stderr)
        if getattr(args, "json", False):  # a script reading stdout still gets one object
            print(json.dumps({"error": str(error)}, ensure_ascii=False))
        return 1
    except BrokenPipeError:  # `assistant ask ... | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 0
    except KeyboardInterrupt:
        kept = " (the vectors embedded so far are kept: run it again to go on)" \
            if args.command == "index" and not args.check else ""
        print("interrupted" + kept, file=sys.stderr)
        return 130


def run_index(args) -> int:
    from .embed import Embedder
    from .build import rebuild

    if args.check:
        return run_check(args)
    summary = rebuild(existing_archive(args.archive), args.index, Embedder(threads=args.threads),
                      progress=sys.stderr.isatty())
    for problem in summary.problems:
        print(f"{'skipped' if problem.skipped else 'note:'} {problem}", file=sys.stderr)
    print(summary.line())
    return 0


def existing_archive(paths: list[Path] | None) -> list[Path]:
    """The archive paths given (default archive/), refused if one is not there."""
    paths = paths or [DEFAULT_ARCHIVE]
    for path in paths:
        if not path.exists():
            raise AssistantError(f"archive path not found: {path}")
    return paths


def run_check(args) -> int:
    from .embed import Embedder
    from .store import verify

    if args.archive:
        raise AssistantError("--check checks the index against its own checksums, not an "
                             "archive: leave out --archive")
    print(verify(args.index, Embedder()).line())
    return 0


def run_ask(args) -> int:
    from .pipeline import Assistant

    check_dates(args.since, {"--until": args.until, "--as-of": args.as_of})
    assistant = Assistant(args.index)
    sources, categories = named_facets(assistant, args.sources, args.categories)
    window = DateWindow(since=args.since, until=args.until, as_of=args.as_of,
                        sources=sources, categories=categories)
    result = assistant.ask(args.question, k=args.k, window=window,
                           timeline=args.timeline or None, read_dates=args.read_dates)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print(terminal_safe(format_answer(result)))
    return 0


def run_eval(args) -> int:
    import tempfile

    from .cache import default_cache_root
    from .calibrate import calibrate
    from .embed import Embedder
    from .evaluate import MemoEmbed, evaluate, format_report, prepare
    from .build import rebuild
    from .pipeline import Assistant

    for path in (args.corpus, args.questions):
        if not path.is_file():
            raise AssistantError(f"file not found: {path}")
    embedder = Embedder()
    index_dir = args.index or default_cache_root().parent / "eval-index" / embedder.fingerprint[:16]
    weeks = set(args.weeks.split(",")) if args.weeks else None
    progress = sys.stderr.isatty()
    questions, assistant, rebuilt = prepare(args.corpus, args.questions, index_dir, embedder,
                                            weeks, args.limit, args.corpus_days, progress)
    if args.calibrate:
        with tempfile.TemporaryDirectory() as offtopic_dir:
            rebuild(args.offtopic_archive or [DEFAULT_ARCHIVE], Path(offtopic_dir), embedder)
            report = calibrate(assistant, Assistant(Path(offtopic_dir), embedder), questions,
                               MemoEmbed(embedder))
        print(json.dumps(report) if args.json else json.dumps(report, indent=2))
        return 0
    report = evaluate(questions, assistant, progress=progress)
    report["corpus"]["rebuilt"] = rebuilt
    print(json.dumps(report) if args.json else format_report(report))
    return 0


def run_load(args) -> int:
    from . import loadtest

    report = loadtest.run(args.url, args.clients, args.seconds, args.endpoint)
    print(json.dumps(report.to_json()) if args.json else report.line())
    return 1 if report.errors else 0


def run_bench(args) -> int:
    from .bench import BenchSettings, format_bench, run_bench as measure
    from .cache import default_cache_root

    for path in [args.corpus] if args.rebuild_copies else [args.corpus, args.questions]:
        if not path.is_file():
            raise AssistantError(f"file not found: {path} (give --corpus and --questions)")
    if args.rebuild_copies:
        return run_rebuild_bench(args)
    settings = BenchSettings(args.corpus, args.questions)
    report = measure(settings.quick() if args.quick else settings,
                     default_cache_root().parent / "bench",
                     progress=lambda line: print(line, file=sys.stderr))
    print(json.dumps(report) if args.json else format_bench(report))
    return 0


def run_rebuild_bench(args) -> int:
    import tempfile

    from .bench_rebuild import rebuild_at_scale
    from .archive import counted

    copies = "1 copy" if args.rebuild_copies == 1 else f"{args.rebuild_copies} copies"
    print(f"a full build, then a rebuild, of {copies} of {args.corpus} (minutes at hundreds "
          "of thousands of chunks)...", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as work:
        report = rebuild_at_scale(args.corpus, args.rebuild_copies, Path(work) / "index")
    row = report["rebuild_scale"]
    print(json.dumps(report) if args.json else
          f"{row['articles']:,} articles: full build of {row['full_build_chunks']:,} chunks "
          f"{row['full_build_s']} s, rebuild after {counted(row['new_articles'], 'new article')} "
          f"({row['incremental_embedded']:,} chunks embedded) {row['incremental_s']} s; "
          "a hash embedder stands in for the model, so this is the work besides embedding")
    return 0


def run_serve(args) -> int:
    from .embed import Embedder
    from .build import rebuild
    from .pipeline import Assistant
    from . import store, ui

    ui.check_address(args.host, args.port)  # now, not after building the index
    embedder = Embedder()
    if store.current_name(args.index) is None:
        archive = existing_archive(args.archive)
        print(f"no index in {args.index}/ yet: building it from {', '.join(map(str, archive))}",
              file=sys.stderr)
        print(rebuild(archive, args.index, embedder, progress=sys.stderr.isatty()).line(),
              file=sys.stderr)
    assistant = Assistant(args.index, embedder)
    assistant.warm_up()  # fail now, with a message, rather than on the first question
    ui.serve(assistant, host=args.host, port=args.port)
    return 0
