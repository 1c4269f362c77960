"""Importing transformers safely: offline unless a pull asks otherwise.

The Hugging Face libraries read their offline flags at import time, so this
module sets them before the first import. Only an explicit model pull may
go online, and it does so in its own code path.
"""

from __future__ import annotations

import os


def import_transformers():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    return transformers
