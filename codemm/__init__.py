"""codemm: a local, multimodal code-LLM assistant."""

__version__ = "0.1.0"
