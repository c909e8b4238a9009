"""Each Ray worker's request ids, dealt out by the batch_size split (``distributed/share.py``)."""

from __future__ import annotations

import pytest

from ais_bench.distributed.share import NodeShared, OwnedIds, owner_of
from ais_bench.engine.shared import FINISHED, SENT
from ais_bench.load.schedule import split_concurrency


@pytest.mark.parametrize(("batch_size", "workers"), [(1, 1), (4, 2), (10, 4), (7, 3), (6, 6)])
def test_ids_are_dealt_once_each_in_proportion_to_the_slots(batch_size: int, workers: int) -> None:
    total = 5 * batch_size + 3
    owned = [OwnedIds(worker, workers, batch_size) for worker in range(workers)]
    taken: list[list[int]] = [[] for _ in range(workers)]
    for worker, ids in enumerate(owned):
        while (request_id := ids.take()) < total:
            taken[worker].append(request_id)
    assert sorted(i for ids in taken for i in ids) == list(range(total))
    slots = split_concurrency(batch_size, workers)
    for worker, ids in enumerate(taken):
        assert ids == sorted(ids)
        assert all(owner_of(request_id, batch_size, workers) == worker for request_id in ids)
        # in each full cycle of batch_size ids a worker sends as many as it has slots
        assert sum(1 for i in ids if i < 5 * batch_size) == 5 * slots[worker]


def test_pressure_clients_follow_the_slot_split() -> None:
    # batch_size 10 over 4 workers: slots 3, 3, 2, 2; client ids below 10 dealt the same way
    clients = []
    for worker in range(4):
        ids = OwnedIds(worker, 4, 10)
        clients.append([ids.take() for _ in range(3)])
    assert clients == [[0, 4, 8], [1, 5, 9], [2, 6, 12], [3, 7, 13]]  # ids from 10 on: the next cycle


def test_node_shared_claims_the_workers_own_ids_and_counts_its_slice() -> None:
    shared = NodeShared.for_worker(1, 2, 4)
    assert [shared.claim(shared.next_request) for _ in range(4)] == [1, 3, 5, 7]
    assert shared.claim(shared.next_client) == 1
    shared.counters[1 * 5 + SENT] += 3
    shared.counters[1 * 5 + FINISHED] += 2
    assert shared.worker_counters(1) == [3, 2, 0, 0, 0]
    assert shared.totals().sent == 3


def test_owned_ids_reject_more_workers_than_slots() -> None:
    with pytest.raises(ValueError):
        OwnedIds(0, 3, 2)
