"""The client: the app's side of fine-tuning: plans, the trainer's progress events, runs.

The trainer runs as its own process (``python -m train``); the app never imports
``train``. This package builds the command lines, reads the progress events the
trainer prints (their protocol: :mod:`critique_app.core.finetuning.protocol`), and
finds runs on disk, without Qt, so the wizard stays a thin shell over it.
"""
