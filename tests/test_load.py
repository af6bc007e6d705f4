"""Load through the chat's Gradio API: concurrent clients get answers, a full queue says
"busy" instead of failing, bad questions get a message, and only loopback is driven.

The CI run is 5 clients x 10 s; the documented run is `assistant load --clients 20
--seconds 60` against `assistant serve`.
"""
from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from assistant import loadtest, ui
from assistant.build import rebuild
from assistant.cli import main
from assistant.errors import AssistantError
from assistant.pipeline import Assistant

from conftest import BUNDLED_ARCHIVE, FakeEmbedder

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def chat(bundled_index, real_embedder):
    """`assistant serve`'s app on the bundled archive with the real model, on a free port."""
    port = free_port()
    app = ui.start(Assistant(bundled_index, real_embedder), port=port, block=False)
    yield f"http://127.0.0.1:{port}"
    app.close()


class SlowEmbedder(FakeEmbedder):
    def embed(self, texts):
        time.sleep(0.3)
        return super().embed(texts)


@pytest.fixture
def tiny_queue_chat(tmp_path):
    """A slow assistant behind a queue of 2 with one worker: easy to overload."""
    index_dir = tmp_path / "index"
    rebuild([BUNDLED_ARCHIVE], index_dir, FakeEmbedder())
    app = ui.build_app(Assistant(index_dir, SlowEmbedder()))
    app.queue(max_size=2, default_concurrency_limit=1)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
               ssr_mode=False)
    yield f"http://127.0.0.1:{port}"
    app.close()


def test_five_clients_for_ten_seconds_get_answers_and_no_errors(chat, capsys):
    assert main(["load", "--url", chat, "--clients", "5", "--seconds", "10", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    print(f"\nload 5 x 10 s: {report}")
    assert report["errors"] == 0 and report["answered"] == report["requests"] > 5
    assert report["p50_ms"] <= report["p95_ms"] <= report["max_ms"]


def test_a_full_queue_answers_busy_not_error(tiny_queue_chat):
    report = loadtest.run(tiny_queue_chat, clients=10, seconds=4)
    print(f"\noverload: {report.line()}")
    assert report.errors == 0, report.error_samples
    assert report.busy > 0 and report.answered > 0


def test_bad_questions_through_the_api_get_a_message_or_an_answer(chat):
    with httpx.Client(timeout=60) as client:
        defaults = loadtest.endpoint_defaults(client, chat, "ask")
        for question, words in [("x" * 100_000, "100,000 characters"), ("", "empty"),
                                ("😀🎉", "no words"), ("CSTO \udcff secretary", None),
                                ("Кто генеральный секретарь ОДКБ?", None)]:
            outcome = loadtest.ask_once(client, chat, "ask", [question, *defaults])
            if words:
                assert outcome.kind == "error" and words in outcome.detail, outcome
            else:
                assert outcome.kind == "answered", outcome


@pytest.mark.parametrize("url", ["http://10.1.2.3:7860", "http://0.0.0.0:7860",
                                 "http://[2001:db8::1]:7860", "ftp://127.0.0.1/", "127.0.0.1"])
def test_only_loopback_servers_are_driven(url):
    with pytest.raises(AssistantError):
        loadtest.loopback_base(url)


def test_the_load_command_refuses_other_hosts_and_missing_endpoints(chat, capsys):
    assert main(["load", "--url", "http://10.1.2.3:7860", "--seconds", "1"]) == 1
    assert "not this machine" in capsys.readouterr().err
    assert main(["load", "--url", chat, "--endpoint", "nope", "--seconds", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no /nope endpoint" in err
    assert loadtest.loopback_base("http://localhost:7860/") == "http://localhost:7860"
