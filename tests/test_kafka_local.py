"""The local broker's provisioning, without starting Java."""

from __future__ import annotations

import pytest

from hallpulse import kafka_local
from hallpulse.config import KafkaSettings, Settings, TopicSettings


def test_missing_java_is_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(kafka_local.shutil, "which", lambda tool: None)
    settings = Settings(var_dir=tmp_path, kafka=KafkaSettings(local_port=1, controller_port=2))
    with pytest.raises(kafka_local.KafkaSetupError, match="java is not installed.*KAFKA_BOOTSTRAP"):
        kafka_local.up(settings)


def test_external_cluster_starts_nothing(tmp_path):
    settings = Settings(var_dir=tmp_path, kafka=KafkaSettings(bootstrap="broker-a:9092,broker-b:9092"))
    assert kafka_local.up(settings) == "broker-a:9092,broker-b:9092"
    assert not (tmp_path / "kafka").exists()


def test_broker_properties_pin_partitions_and_forbid_auto_create(tmp_path):
    settings = Settings(var_dir=tmp_path, topics=TopicSettings(partitions=6),
                        kafka=KafkaSettings(local_port=29092, controller_port=29093))
    paths = kafka_local.BrokerPaths(tmp_path / "kafka")
    paths.root.mkdir(parents=True)
    kafka_local.write_properties(settings, paths)
    props = dict(line.split("=", 1) for line in paths.properties.read_text().splitlines())
    assert props["auto.create.topics.enable"] == "false"
    assert props["num.partitions"] == "6"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["process.roles"] == "broker,controller"
    assert set(settings.topics.all().values()) == {6} and "hall.ticks" in settings.topics.all()


def test_cluster_id_is_never_read_as_an_option():
    ids = {kafka_local.cluster_id() for _ in range(2000)}
    assert len(ids) == 2000 and not any(i.startswith("-") for i in ids)
    assert all(len(i) == 22 for i in ids)
