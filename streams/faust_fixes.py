"""Three targeted fixes to faust-streaming (0.15), applied when the worker starts, all on
the exactly-once path. The first two lost state after a kill -9 while the committed
offsets said the events were processed; the third made every restart after a kill wait
ten idle seconds. Re-check them when faust-streaming is upgraded.

1. **Recovery highwaters.** Under ``processing_guarantee="exactly_once"`` faust-streaming
   reads the changelog highwaters for recovery from
   ``AIOKafkaConsumer.last_stable_offset(tp)``. That value is known only after a fetch from
   the partition; on a fresh start it often is not, recovery then believes the changelogs
   are empty and the worker resumes with empty tables. The fix asks the broker instead:
   ``end_offsets`` from a ``read_committed`` consumer is the last stable offset.

2. **Commit before the changelog is sent.** A table write goes into Faust's own
   ``ProducerBuffer`` and reaches the transactional producer later. At a commit, the
   non-transactional path flushes that buffer first; the transactional path
   (``Producer.commit_transactions``) does not, so changelog records still in the buffer
   land in the *next* transaction while this one commits the offsets. A kill before the
   next commit aborts them: the events are never read again and their state is gone.
   Seen under a backlog (``producer buffer full``); tests/test_month_backlog.py, which
   kills the worker twice during a catch-up, caught it. The fix flushes the buffer into
   the open transactions before committing. Records of events after the committed offset
   may then commit early; those events are read again and recognised as duplicates.

3. **Ten idle seconds in every recovery after a kill.** A killed worker leaves an open
   transaction at the end of each changelog; its successor aborts it, and a
   ``read_committed`` consumer never delivers aborted records, so recovery never *sees* the
   highwater offset. faust-streaming notices only after two consecutive 5-second timeouts
   of its changelog queue (``Recovery._slurp_changelogs``), and then compares positions.
   The fix shortens that one wait to 0.5 s (the two-cycle rule stays), so the check comes
   after about a second of silence: restart-to-serving after SIGKILL loses about 9 s less.
"""

from __future__ import annotations

from typing import List, Mapping

import asyncio
import types

from faust.tables import recovery as faust_recovery
from faust.transport.drivers import aiokafka as faust_aiokafka

_Thread = faust_aiokafka.AIOKafkaConsumerThread
_Producer = faust_aiokafka.Producer
_commit_transactions = _Producer.commit_transactions


async def _highwaters(self, partitions: List) -> Mapping:
    consumer = self._ensure_consumer()
    return await consumer.end_offsets(partitions)


async def _flush_then_commit(self, tid_to_offset_map, group_id, start_new_transaction: bool = True) -> None:
    await self.buffer.flush()
    await _commit_transactions(self, tid_to_offset_map, group_id, start_new_transaction=start_new_transaction)


def remember_partition(table, key, partition: int) -> None:
    """Tell the memory store which partition a key written outside ``table[key] = ...``
    belongs to, so that it forgets the key with the partition."""
    partitions = getattr(table.data, "_key_partition", None)  # the memory store's key -> partition
    if partitions is not None:
        partitions[key] = partition


RECOVERY_IDLE_S = 0.5


async def _wait_for(aw, timeout=None):
    # only the changelog queue's 5-second wait in Recovery._slurp_changelogs is shortened
    return await asyncio.wait_for(aw, RECOVERY_IDLE_S if timeout == 5.0 else timeout)


class _RecoveryAsyncio(types.ModuleType):
    """``asyncio`` as faust/tables/recovery.py sees it: the same, but for ``wait_for``."""

    def __getattr__(self, name):
        return _wait_for if name == "wait_for" else getattr(asyncio, name)


def apply() -> None:
    _Thread._highwaters = _highwaters
    if not isinstance(faust_recovery.asyncio, _RecoveryAsyncio):
        faust_recovery.asyncio = _RecoveryAsyncio("asyncio")
    if _Producer.commit_transactions is not _flush_then_commit:
        _Producer.commit_transactions = _flush_then_commit
