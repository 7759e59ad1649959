"""InferenceWorker: submit never waits on the model, latest frame wins, errors are reported."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from engine import FrameResult, InferenceWorker, StreamSegmenter
from engine.bundle import ModelBundle

pytest_plugins = ("engine_helpers",)  # shared fixtures: a small bundle, its graphs


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the worker")
        time.sleep(0.005)


class GatedSegmenter:
    """process() blocks until the test opens the gate; records what it was asked to do."""

    def __init__(self, fail_on: set[int] = frozenset(), sleep: float = 0.0) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.calls: list[str] = []
        self.fail_on = fail_on
        self.sleep = sleep

    def process(self, frame: int) -> str:
        self.calls.append(f"process {frame}")
        self.started.set()
        self.gate.wait()
        time.sleep(self.sleep)
        if frame in self.fail_on:
            raise ValueError(f"bad frame {frame}\nsecond line of the message")
        return f"result {frame}"

    def reset(self) -> None:
        self.calls.append("reset")


@pytest.fixture
def worker_of():
    workers = []

    def make(segmenter) -> InferenceWorker:
        worker = InferenceWorker(segmenter, name="test-inference")
        worker.start()
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.close()


def test_submit_returns_while_the_model_is_busy_and_the_latest_frame_wins(worker_of) -> None:
    segmenter = GatedSegmenter()
    segmenter.gate.clear()
    worker = worker_of(segmenter)
    worker.submit(0, timestamp=10.0, frame_index=0)
    assert segmenter.started.wait(10)
    for i in range(1, 101):  # all of these return while process(0) is still blocked
        worker.submit(i, timestamp=10.0 + i, frame_index=i)
    assert not segmenter.gate.is_set() and worker.frames_processed == 0
    assert worker.frames_submitted == 101 and worker.frames_skipped == 99
    segmenter.gate.set()
    wait_for(lambda: worker.frames_processed == 2)
    assert segmenter.calls == ["process 0", "process 100"]
    latest = worker.latest()
    assert latest.frame_index == 100 and latest.timestamp == 110.0
    assert latest.result == "result 100" and latest.error is None


def test_submit_does_not_wait_for_a_slow_model(worker_of) -> None:
    segmenter = GatedSegmenter(sleep=0.5)
    worker = worker_of(segmenter)
    worker.submit(0, 0.0, 0)
    assert segmenter.started.wait(10)
    began = time.perf_counter()
    for i in range(1, 101):
        worker.submit(i, float(i), i)
    spent = time.perf_counter() - began
    # 100 submits took less than one model call: none of them waited for process().
    assert spent < 0.5
    wait_for(lambda: worker.frames_processed == 2)
    assert worker.latest().latency >= 0.5


def test_a_model_exception_is_reported_and_the_worker_keeps_serving(worker_of) -> None:
    segmenter = GatedSegmenter(fail_on={1, 3})
    worker = worker_of(segmenter)
    seen = []
    for i in range(5):
        worker.submit(i, float(i), i)
        wait_for(lambda i=i: (worker.latest() or None) and worker.latest().frame_index == i)
        seen.append(worker.latest())
    assert [r.error for r in seen] == [None, "ValueError: bad frame 1", None,
                                       "ValueError: bad frame 3", None]
    assert [r.result for r in seen] == ["result 0", None, "result 2", None, "result 4"]
    assert worker.errors == 2 and worker.frames_processed == 3 and worker.running


def test_reset_stream_resets_the_model_before_the_next_frame(worker_of) -> None:
    segmenter = GatedSegmenter()
    worker = worker_of(segmenter)
    worker.submit(0, 0.0, 0)
    wait_for(lambda: worker.frames_processed == 1)
    segmenter.gate.clear()
    segmenter.started.clear()
    worker.submit(1, 1.0, 1)
    assert segmenter.started.wait(10)
    worker.submit(2, 2.0, 2)  # pending, from the old source: dropped by the reset
    worker.reset_stream()
    assert worker.latest() is None and worker.frames_skipped == 1
    worker.submit(10, 10.0, 0)
    segmenter.gate.set()
    wait_for(lambda: worker.frames_processed == 3)
    assert segmenter.calls == ["process 0", "process 1", "reset", "process 10"]
    # Frame 1 finished after the reset: it belongs to the old source and is not published.
    assert worker.latest().result == "result 10"


def test_close_stops_the_thread_and_refuses_frames(worker_of) -> None:
    worker = worker_of(GatedSegmenter())
    worker.submit(0, 0.0, 0)
    wait_for(lambda: worker.frames_processed == 1)
    worker.close(timeout=5)
    assert not worker.running
    with pytest.raises(RuntimeError, match="closed"):
        worker.submit(1, 1.0, 1)


def test_model_fps_counts_recent_results(worker_of) -> None:
    worker = worker_of(GatedSegmenter(sleep=0.02))
    assert worker.model_fps == 0.0
    for i in range(15):
        worker.submit(i, float(i), i)
        wait_for(lambda i=i: worker.frames_processed == i + 1)
    # Each result took at least 20 ms, so no more than 50 results per second can be counted.
    assert 0.0 < worker.model_fps <= 50.0


def test_worker_runs_a_real_stream_segmenter(real_clip, small_bundle: ModelBundle,
                                             worker_of) -> None:
    worker = worker_of(StreamSegmenter(small_bundle, "torch-cpu"))
    frame = real_clip[0][0]
    worker.submit(frame, timestamp=time.monotonic(), frame_index=7)
    wait_for(lambda: worker.latest() is not None, timeout=120)
    latest = worker.latest()
    assert latest.error is None and isinstance(latest.result, FrameResult)
    assert latest.frame_index == 7 and latest.result.mask.shape == frame.shape[:2]
    worker.submit(np.zeros((4, 4), np.uint8), time.monotonic(), 8)  # a bad frame: reported
    wait_for(lambda: worker.latest().frame_index == 8, timeout=120)
    assert worker.latest().error.startswith("ValueError: expected a colour frame")
