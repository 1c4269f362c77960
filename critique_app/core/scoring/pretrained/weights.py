"""Loading downloaded weight files safely: tensors only, never arbitrary pickled objects.

A ``.pth`` file is a pickle. ``torch.load(weights_only=True)`` unpickles only tensors and
plain containers and refuses anything else before running it; a file that will not load
that way is refused here, with a message that says so, and is never unpickled.
"""

from __future__ import annotations

from pathlib import Path

from critique_app.core.util.errors import ModelError


def refused(path: Path) -> ModelError:
    return ModelError(f"{Path(path).name} will not load as plain weights (weights_only); "
                      "refused, not unpickled", path=Path(path).parent)


def load_torch_weights(path: Path) -> dict:
    """The dict saved in ``path`` (a state dict, or a dict holding one), on the CPU.

    Raises :class:`ModelError` for a missing file and for any file that will not load with
    ``weights_only=True`` (a pickle of other objects, or not a torch file at all)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path.name} is missing", path=path.parent)
    try:
        loaded = torch.load(path, weights_only=True, map_location="cpu")
    except Exception:  # UnpicklingError, a zip or pickle that is not one, ...
        raise refused(path) from None
    if not isinstance(loaded, dict):
        raise ModelError(f"{path.name} holds a {type(loaded).__name__}, not a dict of weights",
                         path=path.parent)
    return loaded


def tensors_in(state: dict, path: Path, key: str | None = None) -> dict:
    """``state`` (or ``state[key]``) checked to be a flat dict of name -> tensor."""
    import torch

    if key is not None:
        if key not in state:
            raise ModelError(f"{Path(path).name} has no '{key}' entry "
                             f"(it has: {', '.join(map(str, list(state)[:5]))})",
                             path=Path(path).parent)
        state = state[key]
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ModelError(f"{Path(path).name} is not a state dict of named tensors",
                         path=Path(path).parent)
    return state


def load_strictly(module, state: dict, path: Path, what: str) -> None:
    """``module.load_state_dict(state, strict=True)``, failing with one readable line."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = "; ".join(lines[1:3]) or lines[0]
        if len(detail) > 300:
            detail = detail[:297] + "..."
        raise ModelError(f"{Path(path).name} does not fit the {what} ({detail})",
                         path=Path(path).parent) from None
