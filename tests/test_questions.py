"""Bad questions get a clear one-line message or a best-effort answer, never a traceback:
in the command line (in-process) and in the chat's respond function, with the real model."""
from __future__ import annotations

import json

import pytest

from assistant import conversation, ui
from assistant.cli import main
from assistant.errors import BadQuestion
from assistant.pipeline import MAX_QUESTION_CHARS, Assistant, check_question

pytestmark = pytest.mark.slow

REFUSED = {  # question -> words of the message that says what is wrong
    "": "empty", "   \t\n  ": "empty", "x" * 100_000: "100,000 characters",
    "word " * 250: "characters long", "?!?... ;;; --- ¿¡": "no words", "😀🎉🔥👍": "no words",
    "\u202e\u200b\u2066": "no words", "\x00\x07\x1b": "no words",
}
ANSWERED = [  # best effort: an answer, or "the archive does not answer"
    "Who is the Secretary-General of the CSTO? 😀🎉",
    "集体安全条约组织秘书长是谁？",  # Chinese
    "من هو الأمين العام لمنظمة معاهدة الأمن الجماعي؟",  # Arabic
    "Кто является генеральным секретарём ОДКБ?",  # Cyrillic
    "CSTO\x00secretary\x07general",  # control characters
    "\u202eCSTO\u202c Secretary-General",  # bidi override
    "CSTO \udcff secretary",  # an undecodable byte from a terminal (surrogate escape)
    "<script>alert(1)</script> **SCO** [members](javascript:x)",
    "a" * 999,  # one very long word just under the cap
    "SCO " * (MAX_QUESTION_CHARS // 4),  # exactly at the cap
]


@pytest.fixture
def cli_model(monkeypatch, real_embedder):
    """The command line with the session's loaded model (one load, not one a question)."""
    monkeypatch.setattr("assistant.pipeline.Embedder", lambda: real_embedder)


@pytest.mark.parametrize("question", list(REFUSED), ids=lambda q: repr(q[:12]))
def test_check_question_refuses_with_a_message_that_says_what_to_do(question):
    with pytest.raises(BadQuestion, match=REFUSED[question]):
        check_question(question)


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_cli_never_prints_a_traceback(capsys, bundled_index, cli_model, as_json):
    for question in [*REFUSED, *(ANSWERED if as_json else ANSWERED[:3])]:
        code = main(["ask", question, "--index", str(bundled_index)] + ["--json"] * as_json)
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err, repr(question[:40])
        if question in REFUSED:
            assert code == 1 and err.count("\n") == 1, repr(question[:40])
            assert err.startswith("error: ") and REFUSED[question] in err
            # --json: the same message as one object on stdout; otherwise stdout is empty
            assert out == (json.dumps({"error": err[7:-1]}, ensure_ascii=False) + "\n") * as_json
        else:
            assert code == 0 and err == "", (repr(question[:40]), err)
            if as_json:
                result = json.loads(out)
                assert out.count("\n") == 1 and isinstance(result["found"], bool)
                assert "\udcff" not in result["question"]
            else:
                assert out.strip()


def reply_text(reply) -> str:
    """What the chat shows for `respond`'s reply, whatever its type (str or a turn)."""
    if isinstance(reply, str):
        return reply
    render = getattr(ui, "render_transcript", None)
    if render is not None:
        return render([reply])
    return str(reply)


def test_chat_respond_gives_a_message_or_an_answer_never_a_traceback(bundled_index,
                                                                     real_embedder):
    assistant = Assistant(bundled_index, real_embedder)
    for question in [*REFUSED, *ANSWERED]:
        reply = conversation.respond(assistant, question, [])
        shown = reply_text(reply)
        assert shown.strip() and "Traceback" not in shown, repr(question[:40])
        shown.encode("utf-8")  # what Gradio does before sending it: no lone surrogates
        error = reply if isinstance(reply, str) else getattr(reply, "error", None)
        if question.strip() and question in REFUSED:
            assert REFUSED[question] in str(error), repr(question[:40])


def test_chat_caps_what_it_takes_and_echoes(bundled_index, real_embedder):
    assistant = Assistant(bundled_index, real_embedder)
    app = ui.build_app(assistant)
    boxes = [b for b in app.blocks.values() if getattr(b, "elem_id", None) == "question"]
    assert boxes and 0 < (boxes[0].max_length or 0) <= MAX_QUESTION_CHARS
    shown = reply_text(conversation.respond(assistant, "x" * 100_000, []))
    assert len(shown) < 20_000

