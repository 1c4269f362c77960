"""Critique: a desktop photo-critique tool.

The package is split into a Qt-free core (``critique_app.core``) and thin
shells over it (``critique_app.cli`` now, ``critique_app.gui`` later).
"""

__version__ = "0.1.0"
