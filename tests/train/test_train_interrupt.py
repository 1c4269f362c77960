"""A Stop (SIGINT) is never lost, even when its KeyboardInterrupt is swallowed by Python."""

from __future__ import annotations

import gc
import os
import signal

import pytest

from train import interrupt


class _StoppedDuringFinaliser:
    """A finaliser that is running when the signal's exception is raised: Python prints
    "Exception ignored in ..." and drops it, as happens inside torch's finalisers."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # bytecodes for the pending signal to be handled in
            pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_stop_swallowed_by_a_finaliser_still_stops_at_the_next_check():
    previous = interrupt.install()
    try:
        _StoppedDuringFinaliser()  # collected at once: the KeyboardInterrupt is dropped
        gc.collect()
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
    finally:
        interrupt.restore(previous)
    assert signal.getsignal(signal.SIGINT) is previous[signal.SIGINT]
    interrupt.check()  # restored: the request is forgotten, no stop for the next run


def test_without_a_stop_check_lets_the_run_go_on():
    previous = interrupt.install()
    try:
        interrupt.check()
    finally:
        interrupt.restore(previous)
