"""The trainer: fine-tuning Critique's models, as its own process (``python -m train``).

Kept outside ``critique_app`` so the app never imports it. The other two parts of
fine-tuning are the client (``critique_app.core.finetuning``: plans, progress events,
runs) and the wizard (``critique_app.gui.finetune``). Each task has one entry point,
``train/run_<task>.py``, which ``train/cli.py`` dispatches to.
"""
