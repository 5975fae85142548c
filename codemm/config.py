"""Settings: defaults < user config < project ``codemm.toml`` < ``CODEMM_*`` environment < flags.

The project file overrides the user file (as git's local config overrides its global one): a
repository can pin the model its team uses, and a person can still override it for one shell
with an environment variable or for one command with a flag.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemm.errors import BadInputError
from codemm.paths import config_dir

PROJECT_FILE = "codemm.toml"

BACKENDS = ("transformers", "llamacpp", "openai")
QUANTS = ("none", "8bit", "4bit")
DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class Settings:
    """Every knob a user can set in a config file, the environment or a flag."""

    backend: str = "transformers"
    """transformers (in process, the default; training), llamacpp (a GGUF in process through
    llama-cpp-python) or openai (any OpenAI-compatible server: llama.cpp, Ollama, vLLM...)."""
    model: str = "smollm2-135m-instruct"
    """Registry name, local Hugging Face checkpoint dir, or ``.gguf`` file; with the openai
    backend, the server's model id (default: the one model the server serves)."""
    api_base: str = "http://127.0.0.1:8080/v1"
    """openai backend: the server's OpenAI-compatible base URL, ending in /v1."""
    api_key_env: str = ""
    """openai backend: the environment variable holding the API key (the key never goes in a file)."""
    embedding_model: str = "all-MiniLM-L6-v2"
    """What embeds the index's chunks and the queries: all-MiniLM-L6-v2 (built in, offline), a local
    sentence-transformers checkpoint dir (safetensors), or ``openai:<model-id>`` on an
    OpenAI-compatible /v1/embeddings endpoint. Changing it re-embeds the index on its next refresh."""
    embedding_api_base: str = ""
    """openai: embedding models: the server's base URL, ending in /v1 (empty: ``api_base``)."""
    embedding_api_key_env: str = ""
    """openai: embedding models: the variable holding the server's API key (empty: ``api_key_env``)."""
    context_window: int = 0
    """Tokens the model sees at once; 0: what the model or server reports."""
    timeout: float = 120.0
    """openai backend: seconds to wait for the server (connect, and between streamed tokens)."""
    repetition_penalty: float = 0.0
    """Penalty on recently generated tokens; 0: the engine's default (1.1 in process), 1: off."""
    quant: str = "none"
    """Weight quantization: none, 8bit (LLM.int8) or 4bit (NF4), through bitsandbytes."""
    device: str = "auto"
    """auto picks CUDA, then MPS, then CPU."""
    dtype: str = "auto"
    """auto is float32 on CPU, bfloat16 on GPUs that support it, else float16."""
    max_new_tokens: int = 512
    temperature: float = 0.0
    """0 means greedy decoding (deterministic)."""
    top_p: float = 0.95
    seed: int = 0
    test_cmd: str = ""
    """`codemm edit`: the project's test command (sh -c, in a scratch copy); run only when set."""
    lint_cmd: str = ""
    """`codemm edit`: a lint command given the changed files; empty: ruff's error rules on Python files."""
    tries: int = 3
    """`codemm edit`: tries before giving up (each failure goes back to the model)."""
    search_rewrite: bool = False
    """Search (`codemm search`, `codemm ask`) on the question plus the code the chat model guesses
    for it (HyDE). Off by default: with the embedded SmolLM2-135M it cost ~3 s a question on CPU and
    did not pay on the harder suite (test MRR +0.006, 95% CI -0.06 to +0.07): python -m
    codemm.eval.bench.retrieval_assist."""
    search_rerank: bool = False
    """Let the chat model reorder search's 25 best files. Off by default: with the embedded
    SmolLM2-135M it cost ~4 s a question on CPU and lowered the harder suite's test MRR by 0.09
    (plain-language recall@1 0.56 -> 0.38), the same benchmark."""
    graph: str = "names"
    """The reference graph the repo map ranks definitions over (`ask`, chat, serve, `edit`):
    ``names`` links a use to every definition of its name; ``imports`` (Python) only to the
    definitions its file's imports reach. Names by default: on the harder suite the import graph
    puts a gold file in the map's first 50 no more often (test split 0.622 -> 0.600), the repo-QA
    answers' gold-fact rate is 0.333 with either (42 questions, SmolLM2, every answer the same), and
    the edit loop's prompt holds a gold file for 0.800 of the harder suite's test questions with
    either (python -m codemm.eval.bench.graph_answers)."""
    lsp: str = "auto"
    """Navigation's precise tier outside Python: auto asks the language server found on PATH for
    each language (gopls, typescript-language-server, rust-analyzer, clangd, jdtls), off never
    starts one, or a comma-separated list of the languages to use one for (``typescript,go``).
    A server that fails or does not answer in 20 s is noted and its language uses the syntactic tier."""
    images_from: str = os.pathsep.join(("~/Desktop", "~/Downloads", "~/Pictures", tempfile.gettempdir()))
    """Folders outside the repository whose images the repository tools (`read_screenshot` over MCP
    and HTTP) may read, separated by the system's path separator (``:``; ``;`` on Windows); ``~``
    and ``$VARS`` expand. Only images by content (PNG, JPEG, WebP, BMP, GIF; at most 10 MiB), never
    text; links may not lead out of these folders. Empty: repository images only. Default: where
    screenshot tools save (macOS: Desktop; GNOME, KDE, Windows: Pictures/Screenshots) and the
    temporary folder. Not settable in a repository's codemm.toml (``NOT_FROM_PROJECT``)."""
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    """For each setting, where its value came from (default, a file, env or flag)."""

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in _fields()}


def _fields() -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(Settings) if f.name != "sources"]


NOT_FROM_PROJECT = {"images_from"}
"""Settings a repository's own codemm.toml may not set: a cloned repository is not trusted with them."""
_CHOICES = {"backend": BACKENDS, "quant": QUANTS, "device": DEVICES, "dtype": DTYPES, "graph": ("names", "imports")}


def _coerce(name: str, value: Any, origin: str) -> Any:
    """Converts a raw value (TOML value or env string) to the field's type, or explains why not."""
    kind = {f.name: f.type for f in _fields()}[name]
    try:
        if kind in ("bool", bool):
            return _boolean(value)
        if kind in ("int", int):
            if isinstance(value, bool):
                raise ValueError
            value = int(value)
        elif kind in ("float", float):
            value = float(value)
        else:
            value = str(value)
    except (TypeError, ValueError):
        kind = "bool (true or false)" if kind in ("bool", bool) else kind
        raise BadInputError(f"setting '{name}' from {origin} must be a {kind}, got {value!r}") from None
    choices = _CHOICES.get(name)
    if choices and value not in choices:
        raise BadInputError(f"setting '{name}' from {origin} must be one of {', '.join(choices)}, got {value!r}")
    return value


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _boolean(value: Any) -> bool:
    """A TOML boolean, or a string such as an environment variable's: 1/true/yes/on, 0/false/no/off."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE + _FALSE:
        return word in _TRUE
    raise ValueError


def find_project_file(start: Path) -> Path | None:
    """The nearest ``codemm.toml`` in ``start`` or a parent, stopping at a repository root."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return candidate
        if (folder / ".git").exists():
            return None
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from None
    known = {f.name for f in _fields()}
    # A [codemm] table or top-level keys both work; other tables belong to other tools.
    table = data.get("codemm", data)
    settings = {k: v for k, v in table.items() if not isinstance(v, dict)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise BadInputError(f"unknown setting '{unknown[0]}' in {path} (known: {', '.join(sorted(known))})")
    return settings


def load_settings(
    flags: dict[str, Any] | None = None,
    cwd: Path | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Merges every layer; ``flags`` holds only the options the user actually passed."""
    environ = dict(os.environ) if environ is None else environ
    settings = Settings()
    for f in _fields():
        settings.sources[f.name] = "default"

    layers: list[tuple[str, dict[str, Any]]] = []
    user_file = config_dir() / "config.toml"
    if user_file.is_file():
        layers.append((str(user_file), _read_toml(user_file)))
    project_file = find_project_file(cwd or Path.cwd())
    if project_file:
        project = _read_toml(project_file)
        for name in sorted(NOT_FROM_PROJECT & set(project)):
            raise BadInputError(
                f"setting '{name}' cannot be set in {project_file}: a repository may not widen what codemm "
                f"reads outside it; set it in {user_file} or CODEMM_{name.upper()}"
            )
        layers.append((str(project_file), project))
    env_layer = {
        f.name: environ[f"CODEMM_{f.name.upper()}"] for f in _fields() if f"CODEMM_{f.name.upper()}" in environ
    }
    layers.append(("environment", env_layer))
    layers.append(("flag", {k: v for k, v in (flags or {}).items() if v is not None}))

    for origin, values in layers:
        for name, raw in values.items():
            label = f"CODEMM_{name.upper()}" if origin == "environment" else origin
            setattr(settings, name, _coerce(name, raw, label))
            settings.sources[name] = label
    return settings
