"""Public ids: unique, within the column's 40 characters, and ordered by time."""

from __future__ import annotations

import time

from nabat.ids import ordered_id, ordered_ids


def test_a_batch_of_ids_is_unique_and_later_ids_sort_after_earlier_ones() -> None:
    first = ordered_ids("evt_", 1000)
    assert len(set(first)) == 1000
    assert all(i.startswith("evt_") and len(i) == 36 for i in first)
    time.sleep(0.002)
    later = ordered_id("evt_")
    assert later > max(first)
    assert later not in first
