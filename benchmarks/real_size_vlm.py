"""SmolVLM-256M-Instruct at its real size, with random weights, for tests and benchmarks.

The Hub is unreachable here, so the model is built from the real configuration,
processor, chat template and tokenizer files in
``shared/real-configs/SmolVLM-256M-Instruct`` (256.5 M parameters; saved in
bfloat16 it is 513,028,808 bytes, exactly the size of the real
model.safetensors). What it writes is noise, but every pass costs what the
real model's costs: the time a user waits does not depend on the weights'
values. ``build_real_smolvlm(folder)`` saves it like a download.

Run on its own, it builds the model into a folder (``--500m``: SmolVLM-500M from
its reconstructed config):

    python benchmarks/real_size_vlm.py OUT_DIR [--500m]
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REAL_CONFIGS = REPO.parent / "shared" / "real-configs" / "SmolVLM-256M-Instruct"
# SmolVLM-500M: a config reconstructed from its model card (see that folder's
# RECONSTRUCTED.md); it shares the 256M's processor, template and tokenizer.
REAL_CONFIGS_500M = REAL_CONFIGS.parent / "SmolVLM-500M-Instruct"
SKIPPED = {"config.json", "README.md"}  # config is re-saved with the model; the card is prose


def build_real_smolvlm(folder: Path, configs: Path = REAL_CONFIGS,
                       processor_files: Path = REAL_CONFIGS) -> Path:
    """Build (once) and save the real-size model of ``configs/config.json`` in ``folder``,
    with the processor and tokenizer files of ``processor_files``; returns ``folder``."""
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    folder = Path(folder)
    if (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file():
        return folder
    if not (configs / "config.json").is_file():
        raise FileNotFoundError(f"the real SmolVLM configuration is not at {configs}")
    config = AutoConfig.from_pretrained(configs, local_files_only=True)
    torch.manual_seed(0)
    model = AutoModelForImageTextToText.from_config(config)
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    model.to(torch.bfloat16).save_pretrained(staging)  # the real checkpoint's dtype
    del model
    for file in processor_files.iterdir():
        if file.is_file() and file.name not in SKIPPED:
            shutil.copyfile(file, staging / file.name)  # copyfile: shared/ is read-only
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return folder


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or sys.argv[2:] not in ([], ["--500m"]):
        sys.exit("usage: python benchmarks/real_size_vlm.py OUT_DIR [--500m]")
    configs = REAL_CONFIGS_500M if sys.argv[2:] else REAL_CONFIGS
    print(build_real_smolvlm(Path(sys.argv[1]), configs))
