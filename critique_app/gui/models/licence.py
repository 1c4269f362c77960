"""Asking before a pull: a model whose licence must be accepted (e.g. NIMA's
non-commercial weights) is pulled only after the user has read and accepted it."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QMessageBox, QWidget


def licence_box(parent: QWidget | None, entry) -> QMessageBox:
    """The question: the model, its licence, and the text to accept; No is the default."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(f"Licence of {entry.name}")
    box.setText(f"<b>{html.escape(entry.name)}</b> is licensed "
                f"{html.escape(entry.licence)}. Pull it only if you accept this licence.")
    box.setInformativeText(entry.licence_acceptance)
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    box.button(QMessageBox.StandardButton.Yes).setText("Accept and pull")
    box.button(QMessageBox.StandardButton.No).setText("Do not pull")
    return box


def ask_licence(parent: QWidget | None, entry) -> bool:
    """Show the licence text; True only on "Accept and pull" (declining pulls nothing)."""
    return licence_box(parent, entry).exec() == QMessageBox.StandardButton.Yes
