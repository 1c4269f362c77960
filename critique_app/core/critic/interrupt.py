"""Stopping a model in the middle of a forward pass.

Generation checks for a cancel between tokens, but one pass (the vision
encoder on a photo, a prompt of a thousand tokens, a choice-scoring forward)
can take many seconds at real size on a CPU. :func:`interruptible` puts a
pre-forward hook on every layer of the model's layer stacks; when one of the
events is set, the next layer raises the project's :class:`Cancelled`, which
unwinds the pass at once and leaves the model as it was (inference keeps no
state).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from critique_app.core.util.errors import Cancelled


@contextmanager
def interruptible(model, *events: threading.Event | None) -> Iterator[None]:
    watched = [event for event in events if event is not None]
    if not watched:
        yield
        return

    def check(module, args):
        if any(event.is_set() for event in watched):
            raise Cancelled()

    handles = [layer.register_forward_pre_hook(check) for layer in _layers(model)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _layers(model) -> list:
    """Every block of every layer stack (``nn.ModuleList``): the vision encoder's and
    the language model's layers, whatever the architecture names them."""
    import torch

    return [layer for module in model.modules() if isinstance(module, torch.nn.ModuleList)
            for layer in module]
