"""The consumer watch's stall rule: a partition whose records wait while its position has not
moved for `stall` seconds gets its consumers replaced; a caught-up or moving one never does."""

from __future__ import annotations

import time

from aiokafka import TopicPartition

from av_shared.runtime import _stuck_partition, _Subscription

TP = TopicPartition("av.batch.chunk-dispatch", 3)
STALL = 5.0


def _subscription() -> _Subscription:
    return _Subscription(topics=(TP.topic,), group="analysis-service", consumer=None)  # type: ignore[arg-type]  # the rule never touches it


def test_records_waiting_at_a_position_that_does_not_move_is_a_stall() -> None:
    watch = _subscription()
    assert _stuck_partition(watch, [(TP, 40, 90)], STALL) is None  # first sight: clock starts
    watch.progress[TP] = (40, time.monotonic() - STALL - 1)
    assert (
        _stuck_partition(watch, [(TP, 40, 90)], STALL) == "av.batch.chunk-dispatch[3]@40 (end 90)"
    )


def test_a_position_that_moves_restarts_the_clock() -> None:
    watch = _subscription()
    watch.progress[TP] = (40, time.monotonic() - STALL - 1)
    assert _stuck_partition(watch, [(TP, 41, 90)], STALL) is None
    assert watch.progress[TP][0] == 41
    assert time.monotonic() - watch.progress[TP][1] < 1


def test_a_caught_up_or_unknown_partition_is_never_stuck() -> None:
    watch = _subscription()
    for position, end in ((90, 90), (90, None)):
        watch.progress[TP] = (position, time.monotonic() - 10 * STALL)
        assert _stuck_partition(watch, [(TP, position, end)], STALL) is None


def test_not_yet_stalled_long_enough() -> None:
    watch = _subscription()
    watch.progress[TP] = (40, time.monotonic() - STALL / 2)
    assert _stuck_partition(watch, [(TP, 40, 90)], STALL) is None
