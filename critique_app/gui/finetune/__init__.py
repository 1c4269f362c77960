"""The fine-tuning wizard (Tools ▸ Fine-tune…): one page per file, the trainer as a
separate process (see :mod:`critique_app.gui.finetune.wizard`)."""

from critique_app.gui.finetune.wizard import FineTuneWizard

__all__ = ["FineTuneWizard"]
