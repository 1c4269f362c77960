"""Importing transformers quietly, without switching the process offline.

Hugging Face's libraries read ``HF_HUB_OFFLINE`` once, when they are imported,
for the whole process: setting it here would make a later model pull in the
same process (the app's Models dialog) fail with "offline mode is on". Instead
every loader passes ``local_files_only=True`` (:data:`LOCAL_ONLY`), so loading
never reaches the network and an explicit pull still can.
"""

from __future__ import annotations

import os

LOCAL_ONLY = {"local_files_only": True}


def import_transformers():
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    return transformers
