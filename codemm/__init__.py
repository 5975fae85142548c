"""codemm: a local, multimodal code-LLM assistant."""

import logging as _logging

__version__ = "0.1.0"

# Importing peft imports bitsandbytes, which on a CPU without its optional fast kernel logs a warning
# naming trust_remote_code (it falls back to its own kernel; nothing for a user to do). Set here, at
# the package's import, because peft may be imported before codemm.models.load.quiet_libraries runs.
_logging.getLogger("bitsandbytes").setLevel(_logging.ERROR)
