"""Engines' weight files are read once per process, again when they change, and a broken one
keeps failing with its reason without being re-read."""

import pytest

from app.pipeline.engines.weights_cache import WeightsCache, WeightsError


def test_files_are_read_once_and_again_when_they_change(tmp_path):
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"one")
    reads = []
    cache = WeightsCache(lambda location: reads.append(location.read_bytes()) or len(reads))
    assert cache.get(weights, [weights]) == 1
    assert cache.get(weights, [weights]) == 1 and reads == [b"one"]
    weights.write_bytes(b"second")  # replaced: another size
    assert cache.get(weights, [weights]) == 2 and reads == [b"one", b"second"]
    assert len(cache._results) == 1  # the superseded result is dropped


def test_a_broken_file_fails_with_its_reason_each_time_without_being_read_again(tmp_path):
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"broken")
    reads = []

    def read(location):
        reads.append(location)
        raise WeightsError(f"{location} does not match")

    cache = WeightsCache(read)
    raised = []
    for _ in range(3):
        with pytest.raises(WeightsError, match="does not match") as caught:
            cache.get(weights, [weights])
        raised.append(caught.value)
    assert len(reads) == 1
    # A fresh exception each time: one re-raised object would carry an ever longer traceback.
    assert len({id(error) for error in raised}) == 3
    assert len({len(list(_frames(error))) for error in raised}) == 1


def _frames(error):
    trace = error.__traceback__
    while trace is not None:
        yield trace
        trace = trace.tb_next
