"""An engine that keeps what it sent, as the agent would send it: for tests and seeding
that feed the fact writer without Kafka."""

from __future__ import annotations

from schemas.facts import facts_from_builtins
from sinks.facts import FactBatch, batch_from_facts
from streams.engine import Engine, Outcome


class Tables:
    """The worker's Faust tables as the agent's writes leave them: each key's last value, a
    write of None deleting the key. What a restarted worker restores its engine from."""

    def __init__(self) -> None:
        self.data: dict[str, dict] = {"visits": {}, "surveys": {}, "alert_states": {}}

    def apply(self, writes) -> None:
        for table, key, value in writes:
            if value is None:
                self.data[table].pop(key, None)
            else:
                self.data[table][key] = value

    def restore(self, engine: Engine) -> Engine:
        """``engine`` rebuilt from these tables, as after a restart."""
        d = self.data
        engine.restore(d["visits"].items(), d["surveys"].items(), d["alert_states"].items())
        return engine


class RecordingEngine(Engine):
    """:class:`Engine` that collects every outcome's facts and alerts until taken."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent_facts: list[dict] = []
        self.sent_alerts: list = []

    def _keep(self, out: Outcome) -> Outcome:
        self.sent_facts += out.facts
        self.sent_alerts += out.alerts
        return out

    def process(self, *args, **kwargs) -> Outcome:
        return self._keep(super().process(*args, **kwargs))

    def tick(self, *args, **kwargs) -> Outcome:
        return self._keep(super().tick(*args, **kwargs))

    def take_batch(self) -> FactBatch:
        """What the sink would write next (and forget it here)."""
        batch = batch_from_facts(facts_from_builtins(self.sent_facts), self.sent_alerts)
        self.sent_facts, self.sent_alerts = [], []
        return batch
