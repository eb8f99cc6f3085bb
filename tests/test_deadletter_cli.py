"""``hallpulse deadletter replay`` against a real broker: no spurious client warnings
("No partition metadata" came from the group join's assignor), and a replay commits what
it sent, so a second replay finds nothing new (issue 9.4)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from streams.engine import DeadLetter

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent


def test_replay_prints_only_its_result(kafka_bootstrap, tmp_path):
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic

    run_id = uuid.uuid4().hex[:8]
    dl_topic, target = f"dl-{run_id}", f"in-{run_id}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(dl_topic, 2, 1), NewTopic(target, 2, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for i in range(3):
        producer.send(dl_topic, DeadLetter("unknown_hall", "not in the catalogue", target, 0, i, "H1",
                                           b'{"hall_id": "H1"}').to_json())
    producer.flush()
    producer.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLPULSE")}
    env.update(PYTHONPATH=str(ROOT), KAFKA_BOOTSTRAP=kafka_bootstrap, HALLPULSE__VAR_DIR=str(tmp_path),
               HALLPULSE__TOPICS__DEADLETTER=dl_topic, HALLPULSE__WORKER__APP_ID=f"hp-{run_id}")

    def replay() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hallpulse", "deadletter", "replay"], capture_output=True,
                              text=True, env=env, timeout=60, cwd=ROOT)

    first = replay()
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "replayed 3 dead letter(s)"
    assert "No partition metadata" not in first.stderr and first.stderr.strip() == "", first.stderr
    second = replay()
    assert second.stdout.strip() == "replayed 0 dead letter(s)", second.stderr
