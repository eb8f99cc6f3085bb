"""Shared fixtures: the real Kafka broker for the integration tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hallpulse import kafka_local
from hallpulse.config import KafkaSettings, Settings
from tests.pipeline import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory) -> str:
    """A real broker: ``KAFKA_BOOTSTRAP`` if set, else the project's local KRaft broker on
    free ports. Its jars come from the repo's var/kafka/libs (fetched once by Maven)."""
    if os.environ.get("KAFKA_BOOTSTRAP"):
        yield os.environ["KAFKA_BOOTSTRAP"]
        return
    var = tmp_path_factory.mktemp("kafka-var")
    shared_libs = ROOT / "var" / "kafka" / "libs"
    if not shared_libs.exists():
        kafka_local.fetch_jars(kafka_local.BrokerPaths(ROOT / "var" / "kafka"))
    (var / "kafka").mkdir(parents=True)
    (var / "kafka" / "libs").symlink_to(shared_libs)
    settings = Settings(var_dir=var, kafka=KafkaSettings(local_port=free_port(), controller_port=free_port()))
    try:
        yield kafka_local.up(settings, wait=120)
    finally:
        kafka_local.down(settings)
