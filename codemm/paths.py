"""Where codemm keeps its files. Every location can be moved with an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

_APP = "codemm"


def cache_dir() -> Path:
    """Re-creatable artefacts: converted model checkpoints, repo indexes."""
    return Path(os.environ.get("CODEMM_CACHE_DIR") or platformdirs.user_cache_dir(_APP))


def config_dir() -> Path:
    """The user config file ``config.toml``."""
    return Path(os.environ.get("CODEMM_CONFIG_DIR") or platformdirs.user_config_dir(_APP))


def data_dir() -> Path:
    """Things the user would miss: adapters, chat history, eval runs."""
    return Path(os.environ.get("CODEMM_DATA_DIR") or platformdirs.user_data_dir(_APP))
