"""all-MiniLM-L6-v2 run by OpenVINO with int8 weights and activations: the fast path.

On first use the transformer is converted from the bundled sentence-transformers model
and quantised with NNCF, calibrated on calibration.txt (news-style paragraphs written for
this project), on this machine and with no download; the result is cached, so later
processes load it in a second without importing torch. Operations left in floating point
run in bfloat16 where the CPU has it. Tokenising (the model's tokenizer.json, truncated at
its max_seq_length) and mean pooling follow the model's sentence-transformers
configuration. Mean cosine to the fp32 reference: 0.997 (README, "Performance").
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .cache import default_cache_root

BATCH = 8  # texts per inference request; requests run one per stream (core)
# Token counts are padded to a multiple of PAD_TO, fewer shapes for OpenVINO to prepare;
# from LONG tokens on, of 2 * PAD_TO, which its kernels run faster: long texts up to 4% more
# a second for the padding, short ones 5-9% fewer (README, "Embedding").
PAD_TO, LONG = 8, 128
CALIBRATION = Path(__file__).with_name("calibration.txt")
SCHEME = "openvino-int8-mixed-1"  # changes whenever the quantisation does


def quantisation_fingerprint() -> str:
    """Names the scheme and hashes its calibration text: either changing changes vectors."""
    return f"{SCHEME} {hashlib.sha256(CALIBRATION.read_bytes()).hexdigest()}"


def calibration_texts() -> list[str]:
    """Each paragraph, its first sentence, and it joined to the next: short and long inputs."""
    paragraphs = CALIBRATION.read_text(encoding="utf-8").splitlines()
    firsts = [p.split(". ")[0] + "." for p in paragraphs]
    pairs = [a + " " + b for a, b in zip(paragraphs, paragraphs[1:])]
    return paragraphs + firsts + pairs


def cache_root() -> Path:
    return default_cache_root().parent / "openvino"


class OpenVinoEncoder:
    """Texts -> mean-pooled token vectors (not normalised), `threads` requests at a time."""

    def __init__(self, model_path: Path, fingerprint: str, threads: int):
        import openvino

        core = openvino.Core()
        version = re.sub(r"[^\w.-]", "-", openvino.__version__)  # it holds slashes
        bf16 = "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        self.compiled = compiled_model(core, model_path, f"{fingerprint[:16]}-{version}", {
            "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32",
            "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(threads),
            "INFERENCE_NUM_THREADS": str(threads)})
        self.threads = threads
        self.tokenizer = model_tokenizer(model_path)
        self.tokenizer.no_padding()  # each batch is padded to its own longest text (padded)

    def encode(self, texts: list[str]) -> np.ndarray:
        """One row per text; batches are formed from texts alike in token count. Sorted by
        characters instead, 10% of the tokens a build embedded were padding, not 2%
        (README, "Embedding")."""
        vectors = np.zeros((len(texts), self.compiled.outputs[0].partial_shape[2].get_length()),
                           dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        by_length = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        size = min(BATCH, -(-len(texts) // self.threads))  # a few texts: one a core
        # Requests of this call only: callers on other threads never share one. They are
        # waited for here, not given Python callbacks: a callback needs the GIL on an
        # OpenVINO thread, which deadlocks against a model being freed.
        requests = [self.compiled.create_infer_request()
                    for _ in range(min(self.threads, -(-len(texts) // size)))]
        running: dict[int, tuple[list[int], np.ndarray]] = {}

        def collect(slot: int) -> None:
            rows, mask = running.pop(slot)
            requests[slot].wait()
            tokens = requests[slot].get_output_tensor(0).data
            weights = mask[..., None].astype(np.float32)
            vectors[rows] = (tokens * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)

        for batch, start in enumerate(range(0, len(texts), size)):
            slot = batch % len(requests)
            if slot in running:
                collect(slot)
            rows = by_length[start:start + size]
            inputs = padded([encodings[i] for i in rows])
            requests[slot].start_async(inputs)
            running[slot] = (rows, inputs["attention_mask"])
        for slot in list(running):
            collect(slot)
        return vectors


def model_tokenizer(model_path: Path):
    """The model's own tokenizer, truncating where sentence-transformers does."""
    from tokenizers import Tokenizer

    config = json.loads((model_path / "sentence_bert_config.json").read_text(encoding="utf-8"))
    tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    tokenizer.enable_truncation(int(config["max_seq_length"]))
    return tokenizer


def model_inputs(tokenizer, texts: list[str]) -> dict[str, np.ndarray]:
    return as_arrays(tokenizer.encode_batch(texts))


def padded(encodings: list) -> dict[str, np.ndarray]:
    """A batch's inputs, padded with the model's [PAD] (id 0) to its longest text, rounded
    up to a multiple of PAD_TO (2 * PAD_TO from LONG tokens on)."""
    longest = max(len(e.ids) for e in encodings)
    multiple = PAD_TO * (2 if longest >= LONG else 1)
    width = multiple * -(-longest // multiple)
    for encoding in encodings:
        encoding.pad(width)
    return as_arrays(encodings)


def as_arrays(encodings: list) -> dict[str, np.ndarray]:
    return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}


def cached_model(core, model_path: Path, name: str):
    """The quantised model from the cache, making (and caching) it when missing or
    unreadable; an unwritable cache only costs making it again next time."""
    folder = cache_root() / name
    try:
        if (folder / "sha256").read_text(encoding="ascii") == files_digest(folder):
            return core.read_model(str(folder / "model.xml"))
    except (OSError, RuntimeError):
        pass  # not there yet, or damaged: make it again
    print("Preparing the int8 model (once on this machine, about a minute)...", file=sys.stderr)
    model = quantise(convert(model_path), model_path)
    try:
        save_atomically(model, folder)
    except OSError:
        pass
    return model


def compiled_model(core, model_path: Path, name: str, config: dict):
    """The quantised model compiled for this CPU with `config`: compiling takes 0.4-0.7 s
    of every process's start, importing the compiled model from the cache 0.2 s. It is
    checked against its SHA-256 first: OpenVINO's own cache of compiled models keeps no
    checksum, and a damaged one loaded and embedded NaNs."""
    cpu = [core.get_property("CPU", "FULL_DEVICE_NAME"),
           core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")]
    key = hashlib.sha256(json.dumps([cpu, config], sort_keys=True).encode()).hexdigest()
    path = cache_root() / name / f"compiled-{key[:16]}.blob"
    try:
        stored = memoryview(path.read_bytes())
        if hashlib.sha256(stored[32:]).digest() == stored[:32]:
            return core.import_model(io.BytesIO(stored[32:]), "CPU", config)
    except (OSError, RuntimeError):
        pass  # not there yet, or not importable: compile it again
    compiled = core.compile_model(cached_model(core, model_path, name), "CPU", config)
    stream = io.BytesIO()  # the stream form: what export_model() returns varies by release
    compiled.export_model(stream)
    blob = stream.getvalue()
    try:
        write_atomically(path, hashlib.sha256(blob).digest() + blob)
    except OSError:
        pass  # an unwritable cache only costs compiling again next time
    return compiled


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file beside `path`, then rename it into place: whole or not there."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".partial-", delete=False) as file:
        partial = Path(file.name)
    try:
        partial.write_bytes(data)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def convert(model_path: Path):
    import openvino
    import torch
    import transformers

    os.environ["HF_HUB_OFFLINE"] = "1"
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    example = {"input_ids": torch.ones((2, 8), dtype=torch.long),
               "attention_mask": torch.ones((2, 8), dtype=torch.long),
               "token_type_ids": torch.zeros((2, 8), dtype=torch.long)}
    # Tracing warns about shape-dependent branches of the attention mask code; the traced
    # model is checked against the fp32 reference by tests/test_embed.py instead.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        transformer = transformers.AutoModel.from_pretrained(str(model_path),
                                                             local_files_only=True).eval()
        return openvino.convert_model(transformer, example_input=example)


def quantise(model, model_path: Path):
    """Int8 weights and activations (NNCF post-training quantisation, the mixed preset:
    symmetric weights, asymmetric activations), calibrated on calibration_texts()."""
    tokenizer, texts = model_tokenizer(model_path), calibration_texts()
    # NNCF logs and draws progress bars on stdout, which `--json` keeps for its answer.
    with contextlib.redirect_stdout(sys.stderr):
        import nncf

        nncf.set_log_level(logging.ERROR)
        dataset = nncf.Dataset(texts, lambda text: model_inputs(tokenizer, [text]))
        return nncf.quantize(model, dataset, subset_size=len(texts),
                             model_type=nncf.ModelType.TRANSFORMER,
                             preset=nncf.QuantizationPreset.MIXED)


def files_digest(folder: Path) -> str:
    """SHA-256 of the model's two files: a damaged cache is made again, never used."""
    digest = hashlib.sha256()
    for name in ("model.xml", "model.bin"):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def save_atomically(model, folder: Path) -> None:
    """Write into a fresh folder beside `folder`, then rename it into place: a crash
    leaves either no cache or a complete one."""
    import openvino

    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=folder.parent))
    try:
        openvino.save_model(model, str(partial / "model.xml"), compress_to_fp16=False)
        (partial / "sha256").write_text(files_digest(partial), encoding="ascii")
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
