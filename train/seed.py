"""Deterministic seeds, and the random state a checkpoint must carry to resume exactly."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def item_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The random generator for one sample's augmentation in one epoch.

    Derived from (seed, epoch, index) alone, so a sample is augmented the same
    way whichever worker loads it and whether or not the run was resumed.
    """
    return np.random.default_rng([seed, epoch, index])
