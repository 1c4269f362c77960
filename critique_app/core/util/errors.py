"""The one error type users can cause, and cancellation."""


class CritiqueError(Exception):
    """A problem the user can do something about (bad file, missing model, ...).

    The message is one line, written for a photographer, and is what the CLI
    prints and the GUI shows. Internal bugs are *not* CritiqueErrors.
    """

    def __init__(self, message: str, *, path: object | None = None) -> None:
        super().__init__(message)
        self.path = path

    def __str__(self) -> str:
        message = super().__str__()
        return f"{self.path}: {message}" if self.path is not None else message


class PhotoError(CritiqueError):
    """The file could not be read as a photo."""


class ModelError(CritiqueError):
    """A model is missing, incomplete or failed to run."""


class Cancelled(Exception):
    """Raised inside slow work when its cancel event is set."""


def check_cancelled(cancel) -> None:
    """Raise :class:`Cancelled` if ``cancel`` (a threading.Event or None) is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled()
