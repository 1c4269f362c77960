"""Encode the photo once per critique, not once per pass.

A critique asks a vision-language model several things about one photo (a
rating, four sections, the emotion); each prompt carries the same pixels, and
each ``forward``/``generate`` would run the vision encoder on them again, which
at real size costs as much as the whole prompt. :func:`reuse_image_features`
wraps the model's ``get_image_features`` (the hook every transformers VLM
calls on its pixel inputs) so that the same pixel tensors, passed again,
return the features computed the first time. The caller shares the tensors
between prompts (see :class:`critique_app.core.critic.chat.PhotoPrompts`),
so identity, not a hash, decides a hit: cheap, and never a false match.

Only inference is cached: with gradients on (training) the wrapper steps aside.
"""

from __future__ import annotations

import functools
import weakref


class _LastFeatures:
    """The features of the last pixel tensors seen; one entry, so memory stays flat."""

    def __init__(self) -> None:
        self.keys: tuple = ()
        self.value = None
        self.computed = 0  # how many times the encoder really ran (benchmarks, tests)

    def matches(self, tensors: tuple) -> bool:
        return len(tensors) == len(self.keys) and all(
            ref() is tensor for ref, tensor in zip(self.keys, tensors, strict=True))

    def remember(self, tensors: tuple, value) -> None:
        self.keys = tuple(weakref.ref(t) for t in tensors)
        self.value = value
        self.computed += 1


def reuse_image_features(model) -> _LastFeatures | None:
    """Install the cache on ``model`` (idempotent); None when it has no vision encoder."""
    owner = _feature_owner(model)
    if owner is None:
        return None
    existing = owner.__dict__.get("get_image_features")
    if existing is not None and hasattr(existing, "feature_cache"):
        return existing.feature_cache
    original = owner.get_image_features
    cache = _LastFeatures()

    @functools.wraps(original)
    def get_image_features(*args, **kwargs):
        import torch

        if torch.is_grad_enabled():
            return original(*args, **kwargs)
        tensors = tuple(v for v in (*args, *kwargs.values()) if isinstance(v, torch.Tensor))
        if not tensors:
            return original(*args, **kwargs)
        if not cache.matches(tensors):
            cache.remember(tensors, original(*args, **kwargs))
        return cache.value

    get_image_features.feature_cache = cache
    owner.get_image_features = get_image_features  # an instance attribute shadows the method
    return cache


def _feature_owner(model):
    """The module whose ``forward`` calls ``self.get_image_features``: the inner
    ``model.model`` of a transformers VLM (the outer class only delegates to it)."""
    inner = getattr(model, "model", None)
    for candidate in (inner, model):
        if candidate is not None and callable(getattr(candidate, "get_image_features", None)):
            return candidate
    return None
