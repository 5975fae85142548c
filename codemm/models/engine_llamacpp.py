"""A GGUF run natively by llama.cpp (llama-cpp-python) in this process: no dequantization, so a
quantized 7B stays ~4 GB instead of ~28 GB of fp32. Optional: `pip install 'codemm[llamacpp]'`.

Adapters are llama.cpp LoRA GGUFs exported from the peft adapter (`codemm adapters export`);
llama-cpp-python binds a LoRA when the model is created (and then reads the weights instead of
memory-mapping them), so switching adapters closes the model first and creates it again: one
copy of the weights in memory, never two.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from codemm.config import Settings
from codemm.errors import BadInputError, CodemmError, ModelFormatError, ModelNotFoundError
from codemm.models.seam import Capabilities
from codemm.models.stream import GenerationSettings, GenerationStats, Message, TokenStream

INSTALL = (
    "the llamacpp backend needs llama-cpp-python: pip install 'codemm[llamacpp]' "
    "(it compiles llama.cpp; see the README for build flags)"
)
DEFAULT_REPEAT_PENALTY = 1.1  # over llama.cpp's last 64 tokens, as in the transformers engine
MAX_DEFAULT_CONTEXT = 8192
"""KV-cache memory grows with the window: a 32k-token window for a 7B model is GBs. Ask for more
with context_window."""


def gguf_path(spec: str) -> Path:
    """The GGUF file a model spec names: a registry name or a .gguf path."""
    from codemm.models.registry import REGISTRY

    if spec in REGISTRY:
        return REGISTRY[spec].locate()
    path = Path(spec).expanduser()
    if path.suffix.lower() != ".gguf":
        raise BadInputError(
            f"the llamacpp backend runs GGUF files; '{spec}' is not a registry name or a .gguf file "
            "(convert a checkpoint with llama.cpp's convert_hf_to_gguf.py, or use --backend transformers)"
        )
    if not path.is_file():
        raise ModelNotFoundError(f"model file {path} does not exist")
    return path


def gguf_architecture(path: Path) -> str:
    """general.architecture from the file's metadata, or why it cannot be read."""
    from gguf import GGUFReader

    try:
        field = GGUFReader(path).fields["general.architecture"]
        return bytes(field.parts[field.data[0]]).decode("utf-8", "replace")
    except (KeyError, ValueError, IndexError, OSError) as exc:
        raise ModelFormatError(f"{path} is not a readable GGUF file ({type(exc).__name__})") from None


def _metadata(path: Path, architecture: str) -> tuple[int, str]:
    """The trained context length and the chat template ('' when the file has none)."""
    from gguf import GGUFReader

    fields = GGUFReader(path).fields
    length = fields.get(f"{architecture}.context_length")
    template = fields.get("tokenizer.chat_template")
    return (
        int(length.parts[length.data[0]][0]) if length is not None else 2048,
        bytes(template.parts[template.data[0]]).decode("utf-8", "replace") if template is not None else "",
    )


class LlamaCppModel:
    backend = "llamacpp"

    def __init__(self, path: Path, settings: Settings) -> None:
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise CodemmError(INSTALL) from None
        self.path = path
        self.settings = settings
        self.architecture = gguf_architecture(path)
        self.trained_context, self.template = _metadata(path, self.architecture)
        self.adapter: str | None = None
        self._lora: Path | None = None
        self._lock = threading.Lock()  # one llama_context: one generation at a time
        self.load_s = 0.0
        self._formatter: Any = None
        self.llm = self._create()

    @classmethod
    def open(cls, settings: Settings) -> LlamaCppModel:
        return cls(gguf_path(settings.model), settings)

    def _create(self, lora: Path | None = None) -> Any:
        import os

        import llama_cpp

        started = time.perf_counter()
        window = self.settings.context_window or min(self.trained_context, MAX_DEFAULT_CONTEXT)
        gpu = self.settings.device in ("auto", "cuda") and llama_cpp.llama_supports_gpu_offload()
        if self.settings.device == "cuda" and not gpu:
            raise BadInputError("--device cuda asked for, but this llama-cpp-python build has no GPU offload")
        self.device = "cuda" if gpu else "cpu"
        try:
            llm = llama_cpp.Llama(
                model_path=str(self.path), n_ctx=window, n_threads=max(1, os.cpu_count() or 2),
                n_gpu_layers=-1 if gpu else 0, seed=self.settings.seed, verbose=False,
                lora_path=str(lora) if lora else None,
                chat_format="chat_template.default" if self.template else None,
            )  # fmt: skip
        except (ValueError, RuntimeError) as exc:  # RuntimeError: a LoRA llama.cpp cannot apply
            raise ModelFormatError(self._load_failure(str(exc), lora)) from None
        self.load_s = time.perf_counter() - started
        return llm

    def _load_failure(self, detail: str, lora: Path | None) -> str:
        import llama_cpp

        if lora is not None and "lora" in detail.lower():
            return f"llama.cpp could not apply the adapter {lora}: {detail}"
        return (
            f"llama.cpp (llama-cpp-python {llama_cpp.__version__}) cannot load {self.path.name}: "
            f"architecture '{self.architecture}' is unknown to this build, or the file is damaged"
        )

    @property
    def name(self) -> str:
        from codemm.models.registry import REGISTRY

        return self.settings.model if self.settings.model in REGISTRY else self.path.stem

    @property
    def context_window(self) -> int:
        return int(self.llm.n_ctx())

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(images=False, adapters=True, training=False)

    def _prompt_tokens(self, messages: list[Message]) -> list[int]:
        """The exact tokens llama-cpp-python's chat handler will feed the model."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.template
        if not template:
            text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages) + "Assistant:"
            return list(self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True))
        if self._formatter is None:  # compiled once: the prompt budget counts many times per question
            model = self.llm._model
            eos, bos = model.token_eos(), model.token_bos()
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=model.token_get_text(eos) if eos != -1 else "",
                bos_token=model.token_get_text(bos) if bos != -1 else "",
            )
        result = self._formatter(messages=cast(Any, messages))
        return list(self.llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True))

    def count_tokens(self, messages: list[Message]) -> int:
        with self._lock:  # an adapter switch must not close the model under a count
            return len(self._prompt_tokens(messages))

    def count_text(self, text: str) -> int:
        with self._lock:
            return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(
        self, messages: list[Message], settings: GenerationSettings, images: list[Any] | None = None
    ) -> TokenStream:
        if images:
            raise BadInputError(
                f"the llamacpp backend reads images as OCR text only; use --image-mode ocr with {self.name}"
            )
        stats = GenerationStats(prompt_tokens=self.count_tokens(messages))  # before _pieces takes the lock
        if stats.prompt_tokens + settings.max_new_tokens > self.context_window:
            raise BadInputError(
                f"the prompt ({stats.prompt_tokens} tokens) and --max-new-tokens {settings.max_new_tokens} "
                f"exceed the context window of {self.context_window}"
            )
        cancel = threading.Event()
        pieces = self._pieces(messages, settings, stats, cancel)
        return TokenStream(pieces, stats, cancel, guard=settings.stop_on_repeat)

    def _pieces(
        self, messages: list[Message], settings: GenerationSettings, stats: GenerationStats, cancel: threading.Event
    ) -> Iterator[str]:
        started = time.perf_counter()
        sampling = settings.temperature > 0
        with self._lock:
            chunks = self.llm.create_chat_completion(
                messages=cast(Any, messages), stream=True, max_tokens=settings.max_new_tokens,
                temperature=settings.temperature if sampling else 0.0, top_p=settings.top_p if sampling else 1.0,
                top_k=0 if sampling else 1, seed=settings.seed,
                repeat_penalty=settings.repetition_penalty or DEFAULT_REPEAT_PENALTY,
            )  # fmt: skip
            finish = ""
            try:
                for chunk in chunks:
                    if cancel.is_set():
                        break
                    choice = chunk["choices"][0]
                    piece = choice["delta"].get("content") or ""
                    finish = choice.get("finish_reason") or finish
                    if piece:
                        if stats.new_tokens == 0:
                            stats.ttft_s = time.perf_counter() - started
                        stats.new_tokens += 1  # llama-cpp-python streams one token per chunk
                        yield piece
            finally:
                chunks.close()  # stops llama.cpp decoding when the consumer stops early
                stats.total_s = time.perf_counter() - started
        stats.stop_reason = "cancelled" if cancel.is_set() else ("length" if finish == "length" else "eos")

    def set_adapter(self, name: str | None) -> None:
        if name == self.adapter:
            return
        lora = None
        if name is not None:
            from codemm.adapters.export import export_gguf
            from codemm.adapters.store import check_base, read_card
            from codemm.models.gguf import file_sha256
            from codemm.models.resolve import ResolvedModel

            base = ResolvedModel(self.settings.model, self.name, "gguf", self.path, self.path, file_sha256(self.path))
            check_base(read_card(name), base)
            lora = export_gguf(name)  # cached: instant when the adapter has not changed
        # Not while an answer is being generated: the chat would freeze until it ends.
        if not self._lock.acquire(blocking=False):
            raise BadInputError("an answer is being generated: stop it (Esc) or wait, then switch the adapter")
        try:
            self.llm.close()
            try:
                self.llm = self._create(lora)
            except CodemmError:
                self.llm = self._create(self._lora)  # back to what it was, then say why
                raise
            self.adapter, self._lora = name, lora
        finally:
            self._lock.release()

    def describe(self) -> dict[str, Any]:
        import llama_cpp

        from codemm.models.gguf import file_sha256

        return {"backend": self.backend, "name": self.name, "origin": str(self.path), "sha256": file_sha256(self.path),
                "architecture": self.architecture, "quant": "gguf", "device": self.device,
                "context_window": self.context_window, "trained_context": self.trained_context,
                "adapter": self.adapter, "adapter_gguf": str(self._lora) if self._lora else None,
                "capabilities": self.capabilities.as_json(), "load_s": round(self.load_s, 3),
                "engine": f"llama-cpp-python {llama_cpp.__version__}"}  # fmt: skip

    def close(self) -> None:
        self.llm.close()
