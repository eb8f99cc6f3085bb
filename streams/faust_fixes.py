"""One targeted fix to faust-streaming, applied when the worker starts.

Under ``processing_guarantee="exactly_once"`` faust-streaming (0.15) reads the changelog
highwaters for recovery from ``AIOKafkaConsumer.last_stable_offset(tp)``. That value is
known only after a fetch from the partition; on a fresh start it often is not, recovery
then believes the changelogs are empty and the worker resumes with empty tables while
the committed offsets say the events were processed: state silently lost. Seen here
intermittently after kill -9; tests/test_pipeline_integration.py catches it (a resend
after the restart must be all duplicates).

The fix asks the broker instead: ``end_offsets`` from a ``read_committed`` consumer is
the last stable offset, which is the highwater recovery needs.
"""

from __future__ import annotations

from typing import List, Mapping

from faust.transport.drivers import aiokafka as faust_aiokafka

_Thread = faust_aiokafka.AIOKafkaConsumerThread


async def _highwaters(self, partitions: List) -> Mapping:
    consumer = self._ensure_consumer()
    return await consumer.end_offsets(partitions)


def apply() -> None:
    _Thread._highwaters = _highwaters
