"""Critique: a desktop photo-critique tool.

The package is a Qt-free core (``critique_app.core``, one package per stage of the
pipeline: photo -> maps -> measurements -> analysis -> scoring -> critic / folder
scoring) and two thin shells over it: the ``critique`` command (``critique_app.cli``)
and the PySide6 desktop app (``critique_app.gui``). Fine-tuning runs as its own
process (the top-level ``train`` package), which the app never imports.
"""

__version__ = "0.1.0"
