"""Twelve targeted changes to faust-streaming (0.15), applied when the worker starts. The
first seven are fixes on the exactly-once path: the first two lost state after a kill -9
while the committed offsets said the events were processed, the third sent output outside
the transaction, the fourth crashed a worker taking over from another, the fifth cost
every recovery 10 s, the sixth and the seventh kept state of aborted transactions after a
rebalance. The eighth hands the worker's input over in batches instead of event by event,
the ninth commits a worker's transactions side by side instead of one after another, and
the tenth lost the first events of a partition fetched during a rebalance, the
eleventh restored tables without the changelog records still on their way to the recovery,
and the twelfth commits as soon as the input is read to its end.
Re-check them when faust-streaming is upgraded.

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
   The agent sends a batch's output in several awaits (table writes, alerts, facts), and
   a commit between two of them would commit part of a batch: its state, say, without
   its facts; after a kill the batch's events are read again, taken for duplicates, and
   the facts never sent (tests/test_month_backlog.py, the kills during a catch-up, lost
   two transactions and a call that way). So a commit also waits for the batch being
   sent (:data:`SENDING`, held by the agent around its sends): a transaction holds
   whole batches.

3. **Output to topics the app does not read left the transaction.** Faust picks the
   transactional producer of a message by its *destination*: ``TransactionManager.send``
   asks the consumer's cluster metadata for the destination partition and the assignor
   for the destination topic's group. For ``hall.alerts``, ``hall.facts`` and
   ``hall.deadletter`` neither is known (the workers do not subscribe to them), so the
   message went to the plain idempotent producer: visible at once, not aborted with the
   transaction. After a kill the events since the last commit are processed again and
   their alerts were sent twice (tests/test_many_workers.py saw the doubled alerts; the
   alerts topic had no transaction markers at all). The fix sends a message for such a
   topic in the transaction of the event being processed (``faust.current_event()``): the
   producer of the source partition, whose offsets that transaction commits. Changelogs
   and other topics the assignor knows keep Faust's rule. The agent's batches (``streams/app.py``
   ``emit``), which have no current event, name that transaction themselves.

4. **A partition that became a standby kept its transactional producer.** At a
   rebalance ``TransactionManager.on_rebalance`` stops the producers of the revoked
   partitions, but skips every partition the *new* assignment lists as a standby, and
   with ``table_standby_replicas`` ≥ 1 (Faust's default) the partitions a worker hands to
   a newcomer are exactly those. The new owner's producer fences the kept one; when the
   new owner dies and the partition comes back, the old worker finds the fenced producer
   still registered, reuses it instead of starting a new one (so the dead worker's open
   transaction is not aborted either, and ``read_committed`` readers wait on it), and
   crashes at its first send with ``ProducerFenced`` / "Can't send messages while not in
   transaction" (tests/test_many_workers.py, the SIGKILL of one of two workers). The fix
   stops, before Faust's own rebalance step, every transactional producer that is not
   one of the new *active* assignment's, so a partition that comes back always gets a
   fresh producer, whose start aborts what the previous owner left open.

5. **Every exactly-once recovery waited 10 s at its end.** Under transactions the last
   offset of a changelog partition is a transaction marker (or an aborted transaction of
   a killed worker), which a ``read_committed`` reader never receives, so the recovery
   never sees the highwater's record. Faust notices only when its changelog poll
   (``asyncio.wait_for(queue.get(), timeout=5.0)`` in ``faust.tables.recovery``) has
   timed out twice in a row and the consumer's position has passed the highwater: 10 s
   of nothing in every restart and every takeover (tests/test_many_workers.py measured
   the survivor restoring its tables 13 s after it got the partitions; with the fix
   about 2 s). The fix gives that module an ``asyncio`` whose ``wait_for`` (used there
   for this poll only) waits at most ``RECOVERY_POLL_S``; Faust's own checks, two empty
   polls in a row and the position past the highwater, are unchanged.

6. **The in-memory tables kept what a worker wrote for partitions it lost.** The memory
   store forgets, at the end of each recovery, the keys of partitions no longer active,
   but it knows a key's partition only for keys it *recovered* from a changelog, not for
   keys the agent wrote. When a worker loses a partition, the transaction holding its
   writes since the last commit is aborted (the new owner's producer fences it), yet the
   keys stayed in memory; when the partition came back, recovery laid the changelog over
   them and the aborted writes survived: the events after the last commit, read again,
   were taken for duplicates and their facts were never sent again. Run B of
   tests/test_many_workers.py lost the first visits of one worker's partitions once in
   eight runs (two workers, no kill); this is the cause found in Faust's code, the loss
   was not reproduced on purpose. The fix records the partition of every key the agent
   writes, so the store forgets them with the partition.
7. **A worker whose group membership was lost went on with what it held.** When the
   broker is away longer than the session timeout, the group forgets the worker; when it
   is back, aiokafka rejoins and the group hands the same partitions back. Faust sees no
   partition move and keeps its in-memory tables and its open transactions, while the
   consumer goes back to the committed offsets: a transaction that was aborted in the
   outage left its writes in memory, the events read again were taken for duplicates,
   and an alert whose closing was aborted stayed open while the engine opened a second
   one (chaos trial "broker down": two alerts of one hall, category and rule open at
   once). What the worker holds then is not known to be committed, so it starts over
   from what is: :func:`note_lost_membership` marks a membership the coordinator
   dropped (aiokafka's ``reset_generation`` with a generation it had joined), and the
   worker's revoke handler (``streams/app.py``) replaces its process with a fresh one
   (:func:`start_over`), which recovers from the changelogs and the committed offsets
   exactly as after a SIGKILL, and whose producers abort what the old ones left open.
8. **Per-event delivery cost more than the worker's own work.** Faust hands every
   fetched message to its conductor in its own ``wait_first`` (four asyncio futures per
   message), the conductor builds an event and queues it per channel, and the stream
   takes it out again with more tasks, sensors and a context variable: about 200 µs per
   event on a 2-core machine, 80 % of bare Faust's whole budget. The worker's agent wants
   whole batches anyway (each table key written once per batch). :func:`deliver_in_batches`
   registers one coroutine for the input topics; the fetcher (:func:`_drain_in_batches`)
   then passes it each fetch of those topics as one list of messages, marks them pending
   as a stream would (so a rebalance waits for them, ``Consumer.wait_empty``), and the
   coroutine acks them once their output is sent. Its run is shielded: a fetcher stopped
   or restarted mid-batch (shutdown, rebalance) does not cut a batch's sends in half.
   Messages of other topics (the changelogs a recovery or a standby reads) go to Faust's
   conductor as before, but a fetch's worth in one race against a rebalance instead of
   one per message: a restart reads its changelogs about a third faster.
9. **A commit took one round of broker requests per partition, one after another.** Under
   exactly-once a worker has one transaction per input partition, and
   ``Producer.commit_transactions`` commits them in turn: offsets to the transaction,
   commit, begin the next, three requests each, awaited before the next transaction's.
   The agent's sends wait for the commit (fix 2), so every commit held the worker's
   output back for the sum of those round trips, and the events read meanwhile showed up
   on the lobby page that much later (`make bench` row 5, 4 partitions: a commit took a
   mean of 106-118 ms in turn, 51-58 ms side by side). The transactions are independent
   (their own producers, ids and locks), so
   :func:`_commit_side_by_side` commits them concurrently: the commit takes as long as
   the slowest one. A failure still fails the commit; the transactions that committed
   stay committed, as when the loop stopped at a failure. ``COMMITS`` counts the commits
   and their time for ``/api/stats``.
10. **The first events of a partition, fetched during a rebalance, were never read.** A
   fetch that arrives while a rebalance starts is dropped (fix 8, as Faust's own loop
   does), and the consumer's position is already past it; Faust relies on the seek to
   the committed offsets when the rebalance ends (``Consumer.perform_seek``) to read it
   again. But aiokafka's ``seek_to_committed`` seeks only partitions with a committed
   offset above 0, so a partition that had none (its first events, not yet committed)
   went on from after the dropped fetch. tests/test_many_workers.py caught it (a worker
   started 3 s after the first: the first 4 and 7 events of the two partitions the first
   one kept were missing from the store, twice in about twelve runs; the worker's log
   showed its first batch starting at offsets 4 and 7). :func:`_seek_to_committed_or_start`
   seeks such a partition of the worker's input to its beginning, which is what
   ``consumer_auto_offset_reset="earliest"`` means for a partition with nothing
   committed; events read twice are recognised as duplicates.
11. **A recovery could end before the changelog records it had fetched reached it.** Under
   exactly-once the recovery takes a changelog partition as read to its end once its
   queue has been empty for two polls and the consumer's *position* has passed the end
   (``detect_aborted_tx``: the rest are aborted records and markers, never delivered).
   But the position moves when the consumer returns a fetch, and the fetcher hands the
   records to the queue after that, over several awaits; the two polls count every empty
   poll since the last record, idle time before the recovery included. A check that fell
   between the two took the partition as read and set its offset to the end, and the
   records then arriving were dropped as already read: the table came back without them.
   Small tables, whose whole changelog fits in the first fetch, came back empty (the chaos
   trial "SIGKILL ×3": surveys 0 keys where the committed changelog held 377, the open
   alerts 0 where it held 6, the large visits table whole; inside ``make chaos``, on a loaded machine).
   :func:`_position_as_delivered` answers the recovery's question with the position only
   while nothing fetched is on its way: the fetcher holds no fetch of changelog records
   (:data:`_CHANGELOGS_IN_HAND`) and the changelog queue is empty; otherwise with the
   recovery's own offset, so it keeps reading. The same check after a rebalance met
   records the fetcher dropped as "read before": the recovery's seek back
   (``seek_wait``) did not reset the offsets the fetcher had read up to, as
   ``Consumer.seek`` does; :func:`_seek_wait_rereading` does, so they are read again.
12. **What the last batches sent waited out the commit interval.** Faust commits every
   ``broker_commit_interval`` (2.8 s), whatever the input. Under exactly-once the worker's
   output (facts, alerts) is invisible downstream until that commit, so at the end of a
   backlog, or after a burst in a quiet moment, the sink and the alert readers waited up
   to 2.8 s for events already processed (`make bench` row 3a: all processed at 8.8 s,
   committed at 11.7 s). With ``deliver_in_batches(..., caught_up_commit_s=...)``
   (``[worker].caught_up_commit_seconds``, 0.5) the fetcher loop commits as soon as a
   batch leaves every input partition read to its end as last fetched
   (:func:`read_to_the_end`), at most that often; a commit already running is waited for
   first, as it may have begun before the batch was acked. Under a backlog the input is
   never read to its end, so commits stay at the interval.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from time import monotonic
from typing import List, Mapping

from aiokafka.consumer.group_coordinator import GroupCoordinator
from aiokafka.errors import KafkaError
from faust.streams import current_event
from faust.tables import recovery as faust_recovery
from faust.tables import table as faust_table
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka

_Thread = faust_aiokafka.AIOKafkaConsumerThread
_Producer = faust_aiokafka.Producer
_commit_transactions = _Producer.commit_transactions
_Transactions = faust_consumer.TransactionManager
_transactions_send = _Transactions.send
_transactions_on_rebalance = _Transactions.on_rebalance


async def _highwaters(self, partitions: List) -> Mapping:
    consumer = self._ensure_consumer()
    return await consumer.end_offsets(partitions)


# held by the agent while it sends a batch's output (fix 2); Python's asyncio.Lock binds
# to the event loop on first use, the loop that runs both the agent and the commits
SENDING = asyncio.Lock()


# fix 9: how many commits, their total and longest time (seconds), from SENDING taken to done
COMMITS = {"count": 0, "total_s": 0.0, "max_s": 0.0}


async def _flush_then_commit(self, tid_to_offset_map, group_id, start_new_transaction: bool = True) -> None:
    async with SENDING:
        t0 = monotonic()
        await self.buffer.flush()
        await _commit_side_by_side(self, tid_to_offset_map, group_id, start_new_transaction)
        took = monotonic() - t0
        COMMITS["count"] += 1
        COMMITS["total_s"] += took
        COMMITS["max_s"] = max(COMMITS["max_s"], took)


async def _commit_side_by_side(self, tid_to_offset_map, group_id, start_new_transaction: bool) -> None:
    """Faust's ``Producer.commit_transactions``, each transaction in its own task (fix 9)."""
    async def commit_one(transactional_id: str, offsets) -> None:
        await _commit_transactions(self, {transactional_id: offsets}, group_id,
                                   start_new_transaction=start_new_transaction)

    results = await asyncio.gather(*(commit_one(tid, offsets) for tid, offsets in tid_to_offset_map.items()),
                                   return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        raise failed[0]


def source_transaction(app, topic: str, partition: int) -> str:
    """The transactional id that commits the offsets of input ``topic``'s ``partition``, as
    Faust names it (``TransactionManager.transactional_id_format``)."""
    return f"{app.conf.id}-{app.assignor.group_for_topic(topic)}-{partition}"


async def _send_in_source_transaction(self, topic, key, value, partition, timestamp, headers, *,
                                      transactional_id=None):
    groups = self.app.assignor._topic_groups
    event = current_event()
    if topic in groups or event is None or event.message.topic not in groups:
        return await _transactions_send(self, topic, key, value, partition, timestamp, headers,
                                        transactional_id=transactional_id)
    tid = source_transaction(self.app, event.message.topic, event.message.partition)
    return await self.producer.send(topic, key, value, partition, timestamp, headers, transactional_id=tid)


async def _stop_all_but_active_then_rebalance(self, assigned, revoked, newly_assigned) -> None:
    active = self._tps_to_transactional_ids(assigned)  # Faust leaves the standbys out here
    stale = sorted(set(self.producer._transaction_producers) - active)
    if stale:
        self.log.info("Stopping %r transactional producers of partitions no longer active: %r", len(stale), stale)
        await self._stop_transactions(stale)
    await _transactions_on_rebalance(self, assigned, revoked, newly_assigned)


_Table = faust_table.Table
_on_key_set = _Table.on_key_set


def _on_key_set_recording_partition(self, key, value) -> None:
    _on_key_set(self, key, value)
    partitions = getattr(self.data, "_key_partition", None)  # the memory store's key -> partition
    partition = self.partition_for_key(key)                   # the source event's partition
    if partitions is not None and partition is not None:
        partitions[key] = partition


def key_partitions(table) -> dict:
    """The partition of each key of an in-memory table, as the store knows it (recovered
    from the changelog, or written by the agent: fix 6)."""
    return dict(getattr(table.data, "_key_partition", {}))


def remember_partition(table, key, partition: int) -> None:
    """Fix 6 for a write made outside ``table[key] = ...`` (the agent's batches name each
    write's partition): the memory store forgets the key with its partition."""
    partitions = getattr(table.data, "_key_partition", None)  # the memory store's key -> partition
    if partitions is not None:
        partitions[key] = partition


_MEMBERSHIP_LOST = threading.Event()
_reset_generation = GroupCoordinator.reset_generation


def note_lost_membership(self) -> None:
    """Fix 7: aiokafka's ``reset_generation``, noting a membership that was lost (not the
    first join, which starts without a generation)."""
    if self.generation is not None and self.generation >= 0:
        _MEMBERSHIP_LOST.set()
    _reset_generation(self)


def membership_lost() -> bool:
    return _MEMBERSHIP_LOST.is_set()


def start_over() -> None:
    """Replace this process with a fresh one, run the same way (fix 7). Sockets close on
    exec; the new process recovers from committed state only."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.execv(sys.executable, sys.orig_argv)


RECOVERY_POLL_S = 0.5


class _RecoveryAsyncio:
    """``asyncio`` as faust.tables.recovery sees it: the same, but its one ``wait_for`` (the
    changelog poll) waits at most :data:`RECOVERY_POLL_S`."""

    def __getattr__(self, name: str):
        return getattr(asyncio, name)

    @staticmethod
    def wait_for(awaitable, timeout=None):
        return asyncio.wait_for(awaitable, timeout=None if timeout is None else min(timeout, RECOVERY_POLL_S))


_BATCH_TOPICS: set[str] = set()
_batch_handler = None
# fix 12: commit at once when the input is read to its end, at most this often (None: never)
_caught_up_commit_s: float | None = None
_caught_up = {"last": 0.0, "pending": False}  # when it last committed so; batches since
# fix 11: whether the fetcher holds a fetch with changelog records not yet in the queue
_CHANGELOGS_IN_HAND = [False]
_Consumer = faust_consumer.Consumer
_drain_messages = _Consumer._drain_messages


def deliver_in_batches(app, topic, handler, *, caught_up_commit_s: float | None = None) -> None:
    """Fix 8: subscribe to ``topic`` (a Faust topic of one or more names) and have the
    fetcher pass every fetch of it to ``handler(messages)`` as one list, in offset order
    per partition. ``handler`` must ack each message (``app.consumer.ack``) once what it
    caused is sent; until then the messages are pending, as in a stream. Fix 12: with
    ``caught_up_commit_s``, a batch that leaves every partition of ``topic`` read to its
    end is committed at once, unless such a commit came less than that long ago."""
    global _batch_handler, _caught_up_commit_s
    app.topics.add(topic)
    _BATCH_TOPICS.update(topic.topics)
    _batch_handler = handler
    _caught_up_commit_s = caught_up_commit_s or None


def read_to_the_end(consumer, read_offset: Mapping) -> bool:
    """Fix 12: whether the fetcher has read every assigned partition of the batch topics up
    to its end as last fetched (the last stable offset under exactly-once). A partition not
    read since its assignment counts as read: its first fetch is a batch of its own. An end
    not known, or a partition no longer assigned, counts as not read: no early commit."""
    try:
        for tp in consumer.assignment():
            if tp.topic in _BATCH_TOPICS:
                done = read_offset.get(tp)
                if done is not None:
                    end = consumer.highwater(tp)
                    if end is None or done + 1 < end:
                        return False
    except (AssertionError, KafkaError):  # a rebalance took the partition meanwhile
        return False
    return True


async def _commit_if_caught_up(consumer, read_offset: Mapping) -> None:
    """Fix 12: the commit interval (2.8 s) is there to spread the cost of commits over many
    events; once the input is read to its end there are no more events to spread it over,
    and waiting only delays what the batch sent (under exactly-once its facts and alerts
    are invisible downstream until the commit): commit now."""
    if not (_caught_up["pending"] and read_to_the_end(consumer, read_offset)):
        return
    now = monotonic()
    if now - _caught_up["last"] >= _caught_up_commit_s:
        _caught_up["last"], _caught_up["pending"] = now, False
        # a commit already running may have begun before this batch was acked, and Faust's
        # commit() then only waits for it: wait first, then commit what is acked now
        await consumer.maybe_wait_for_commit_to_finish()
        await consumer.commit()


async def _drain_in_batches(self, fetcher) -> None:
    """``Consumer._drain_messages`` (the fetcher's loop) with the batch topics of fix 8
    delivered per fetch; everything else as Faust does."""
    if _batch_handler is None:
        return await _drain_messages(self, fetcher)
    callback = self.callback
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    read_offset = self._read_offset
    acks_enabled_for = self.app.topics.acks_enabled_for
    monitor = self.app.monitor
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            self.diag.set_flag(faust_consumer.CONSUMER_FETCHING)
            records, active = await self._wait_next_records(1.0)
            # fix 11: from the fetch's return (the consumer's position has moved) until its
            # changelog records are in the recovery's queue; set before the first await
            _CHANGELOGS_IN_HAND[0] = bool(records) and any(tp.topic not in _BATCH_TOPICS for tp in records)
            await self.sleep(0)
            if records is None or self.should_stop or not self.flow_active:
                _CHANGELOGS_IN_HAND[0] = False  # dropped: a rebalance's recovery seeks them again
                continue
            generation = self.app.consumer_generation_id
            batch, others = [], []
            for tp, recs in records.items():
                if active is not None and tp not in active and tp not in self._buffered_partitions:
                    continue
                monitor.track_tp_end_offset(tp, self.highwater(tp))
                mine = tp.topic in _BATCH_TOPICS
                for record in recs:
                    offset = record.offset
                    r_offset = read_offset[tp]
                    if r_offset is not None and offset < r_offset:
                        continue  # read before (a seek back): Faust drops these too
                    if r_offset and offset - r_offset > 1 and acks_enabled_for(tp.topic):
                        await self._add_gap(tp, r_offset + 1, offset)
                    message = self._to_message(tp, record)
                    (batch if mine else others).append(message)
                    read_offset[tp] = offset
                if mine and recs:
                    monitor.stream_inbound_time[tp] = monotonic()
            if batch and self.flow_active and self.app.consumer_generation_id == generation:
                self._unacked_messages.update(batch)  # pending: a rebalance waits for them
                await asyncio.shield(_batch_handler(batch))
                _caught_up["pending"] = True
            if others:  # one race against a rebalance per fetch, not per message
                await self.wait_first(_deliver(callback, others), self.suspend_flow.wait())
            _CHANGELOGS_IN_HAND[0] = False
            if _caught_up_commit_s is not None:
                await _commit_if_caught_up(self, read_offset)
            if self._commit_every is not None and self._n_acked >= self._commit_every:
                self._n_acked = 0
                await self.commit()
            self.diag.unset_flag(faust_consumer.CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        _CHANGELOGS_IN_HAND[0] = False
        self.diag.unset_flag(faust_consumer.CONSUMER_FETCHING)


async def _deliver(callback, messages: list) -> None:
    for message in messages:
        await callback(message)


_seek_to_committed = _Thread.seek_to_committed


async def _seek_to_committed_or_start(self) -> Mapping:
    """Fix 10: aiokafka's ``seek_to_committed``, and each partition of the worker's input
    without a committed offset (above 0) sought to its beginning."""
    committed = await _seek_to_committed(self)
    if self.app.conf.consumer_auto_offset_reset == "earliest":
        fresh = [tp for tp, offset in committed.items() if tp.topic in _BATCH_TOPICS and not (offset and offset > 0)]
        if fresh:
            await self.seek_to_beginning(*fresh)
    return committed


_Delegate = faust_consumer.ThreadDelegateConsumer
_position = _Delegate.position
_seek_wait = _Delegate.seek_wait


async def _position_as_delivered(self, tp):
    """Fix 11: the consumer's position of ``tp`` as the recovery may use it (its only
    caller): while fetched changelog records are still on their way to the recovery, the
    offset the recovery has read up to instead, which keeps it from jumping past them."""
    position = await _position(self, tp)
    # checked after the answer: a fetch the consumer returned before it has set the flag by now
    queue = self.app.tables.changelog_queue
    if _CHANGELOGS_IN_HAND[0] or not queue.empty():
        read = self.app.tables.recovery.active_offsets.get(tp)
        return read if read is not None else -1
    return position


async def _seek_wait_rereading(self, partitions: Mapping) -> None:
    """Fix 11: the recovery's seek (``seek_wait``, its only caller), and the fetcher's
    read offsets of those partitions set to the seek, as ``Consumer.seek`` does, so the
    records after it are read again rather than dropped as read before."""
    await _seek_wait(self, partitions)
    for tp, offset in partitions.items():
        self._read_offset[tp] = offset if offset else None


def apply() -> None:
    _Thread._highwaters = _highwaters
    if _Thread.seek_to_committed is not _seek_to_committed_or_start:
        _Thread.seek_to_committed = _seek_to_committed_or_start
    if _Consumer._drain_messages is not _drain_in_batches:
        _Consumer._drain_messages = _drain_in_batches
    if _Producer.commit_transactions is not _flush_then_commit:
        _Producer.commit_transactions = _flush_then_commit
    if _Transactions.send is not _send_in_source_transaction:
        _Transactions.send = _send_in_source_transaction
    if _Transactions.on_rebalance is not _stop_all_but_active_then_rebalance:
        _Transactions.on_rebalance = _stop_all_but_active_then_rebalance
    if _Table.on_key_set is not _on_key_set_recording_partition:
        _Table.on_key_set = _on_key_set_recording_partition
    if GroupCoordinator.reset_generation is not note_lost_membership:
        GroupCoordinator.reset_generation = note_lost_membership
    if _Delegate.position is not _position_as_delivered:
        _Delegate.position = _position_as_delivered
    if _Delegate.seek_wait is not _seek_wait_rereading:
        _Delegate.seek_wait = _seek_wait_rereading
    if not isinstance(faust_recovery.asyncio, _RecoveryAsyncio):
        faust_recovery.asyncio = _RecoveryAsyncio()
