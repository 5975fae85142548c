"""``open_model``: the configured engine behind the model seam (``seam.py``).

Engines are imported lazily, so `codemm ask` on the default backend never imports llama-cpp-python
or the openai client, and a missing optional engine is a one-line error that says how to install it.
The factory lives apart from the seam because the engines import the seam (``Capabilities``): the
seam importing them back would make a circle (evalplus's ``make_model`` keeps the same split).
"""

from __future__ import annotations

from codemm.config import Settings
from codemm.models.seam import ChatModel


def open_model(settings: Settings, quant: str | None = None) -> ChatModel:
    """Loads (or connects to) the configured model on the configured backend."""
    if settings.backend == "llamacpp":
        from codemm.models.engine_llamacpp import LlamaCppModel

        return LlamaCppModel.open(settings)
    if settings.backend == "openai":
        from codemm.models.engine_openai import OpenAIModel

        return OpenAIModel.open(settings)
    from codemm.models.engine_transformers import TransformersModel

    return TransformersModel.open(settings, quant)
