"""The int8 OpenVINO embedder against the fp32 sentence-transformers reference, and its
converted-model cache."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant import openvino_model
from assistant.archive import read_archive
from assistant.chunking import chunk_article, embedding_text
from assistant.embed import Embedder

ARCHIVE = Path(__file__).parent.parent / "archive"


@pytest.fixture(scope="module")
def archive_texts():
    articles, _ = read_archive([ARCHIVE])
    chunks = [embedding_text(a, c) for a in articles for c in chunk_article(a)]
    return chunks + [a.title for a in articles] + ["Who leads the CSTO?", "🙂 日本語"]


@pytest.mark.slow
def test_int8_vectors_stay_close_to_the_fp32_reference(real_embedder, archive_texts):
    reference = Embedder(precision="fp32").embed(archive_texts)
    vectors = real_embedder.embed(archive_texts)
    cosines = np.sum(vectors * reference, axis=1)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert cosines.mean() >= 0.99 and cosines.min() >= 0.97, cosines


def test_a_text_embeds_the_same_alone_or_padded_in_a_batch(real_embedder, archive_texts):
    alone = np.stack([real_embedder.embed_one(t) for t in archive_texts[-6:]])
    batched = real_embedder.embed(archive_texts)[-6:]
    assert np.min(np.sum(alone * batched, axis=1)) > 0.999
    side_by_side = real_embedder.embed(archive_texts[-2:])  # one request a text
    assert np.min(np.sum(alone[-2:] * side_by_side, axis=1)) > 0.999


def test_a_batch_holds_texts_alike_in_token_count(real_embedder, monkeypatch):
    """Texts of a few long words and of many short ones: sorted by characters, as before,
    batches mixed 12 tokens with 100 and embedded mostly padding."""
    texts = [" ".join(["international"] * n) for n in range(10, 170, 8)] + \
            [" ".join("abcdefghij"[i % 10] for i in range(n)) for n in range(10, 170, 8)]
    batches = []
    pad = openvino_model.padded

    def recorded(encodings):
        lengths = [len(e.ids) for e in encodings]
        inputs = pad(encodings)
        batches.append((min(lengths), max(lengths), inputs["input_ids"].shape[1]))
        return inputs

    monkeypatch.setattr(openvino_model, "padded", recorded)
    vectors = real_embedder.embed(texts)
    batches.sort()
    assert len(batches) == 5 and all(a[1] <= b[0] for a, b in zip(batches, batches[1:]))
    for _, longest, width in batches:  # padded to the next multiple of 8, or 16 if long
        multiple = openvino_model.PAD_TO * (2 if longest >= openvino_model.LONG else 1)
        assert width % multiple == 0 and 0 <= width - longest < multiple
    assert batches[-1][2] % 16 == 0 and batches[0][2] % 16 == 8  # both kinds were made
    alone = np.stack([real_embedder.embed_one(t) for t in texts[::7]])
    assert np.min(np.sum(alone * vectors[::7], axis=1)) > 0.999


def test_int8_and_fp32_vectors_never_share_an_index(monkeypatch, tmp_path):
    int8, fp32 = Embedder(precision="int8"), Embedder(precision="fp32")
    assert int8.fingerprint != fp32.fingerprint
    calibration = tmp_path / "calibration.txt"
    calibration.write_text("Another calibration paragraph.\n", encoding="utf-8")
    monkeypatch.setattr(openvino_model, "CALIBRATION", calibration)
    assert Embedder(precision="int8").fingerprint != int8.fingerprint


def tiny_model():
    """A one-operation OpenVINO model standing in for the converted transformer."""
    import openvino
    import openvino.opset13 as ops

    tokens = ops.parameter([-1, -1], np.float32, name="tokens")
    return openvino.Model([ops.relu(tokens)], [tokens], "tiny")


def test_a_damaged_cache_is_made_again_and_an_unwritable_one_still_works(monkeypatch, tmp_path):
    import openvino

    made = []
    monkeypatch.setattr(openvino_model, "convert", lambda path: made.append(path) or tiny_model())
    monkeypatch.setattr(openvino_model, "quantise", lambda model, path: model)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    core = openvino.Core()
    openvino_model.cached_model(core, tmp_path, "m")
    openvino_model.cached_model(core, tmp_path, "m")
    assert len(made) == 1  # the second process reads the cache
    folder = openvino_model.cache_root() / "m"
    for damaged in ("model.xml", "model.bin"):
        with open(folder / damaged, "ab") as handle:
            handle.write(b"\0")  # still readable by OpenVINO, but not what was written
        assert openvino_model.cached_model(core, tmp_path, "m").get_friendly_name() == "tiny"
    assert len(made) == 3 and core.read_model(str(folder / "model.xml"))
    assert not list(folder.parent.glob(".partial-*"))  # nothing half-written is left behind
    monkeypatch.setenv("XDG_CACHE_HOME", "/proc/no-such-dir")
    assert openvino_model.cached_model(core, tmp_path, "m").get_friendly_name() == "tiny"


def test_a_compiled_model_is_reused_and_a_damaged_one_compiled_again(monkeypatch, tmp_path):
    import openvino

    made = []
    monkeypatch.setattr(openvino_model, "cached_model",
                        lambda core, path, name: made.append(name) or tiny_model())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (openvino_model.cache_root() / "m").mkdir(parents=True)
    core, config = openvino.Core(), {"NUM_STREAMS": "1"}
    tokens = np.array([[-1.0, 2.0]], dtype=np.float32)

    def relu_of_tokens() -> np.ndarray:
        compiled = openvino_model.compiled_model(core, tmp_path, "m", config)
        return compiled.create_infer_request().infer([tokens])[0]

    assert np.array_equal(relu_of_tokens(), [[0.0, 2.0]]) and len(made) == 1
    assert np.array_equal(relu_of_tokens(), [[0.0, 2.0]]) and len(made) == 1  # imported
    [blob] = (openvino_model.cache_root() / "m").glob("compiled-*.blob")
    damaged = bytearray(blob.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    blob.write_bytes(bytes(damaged))
    assert np.array_equal(relu_of_tokens(), [[0.0, 2.0]]) and len(made) == 2  # compiled again
    assert np.array_equal(relu_of_tokens(), [[0.0, 2.0]]) and len(made) == 2
    config = {"NUM_STREAMS": "2"}  # another setting: another compiled model
    assert np.array_equal(relu_of_tokens(), [[0.0, 2.0]]) and len(made) == 3
    assert len(list(blob.parent.glob("compiled-*.blob"))) == 2
    assert not list(blob.parent.glob(".partial-*"))
    monkeypatch.setenv("XDG_CACHE_HOME", "/proc/no-such-dir")
    assert np.array_equal(relu_of_tokens(), [[0.0, 2.0]])  # an unwritable cache still works
