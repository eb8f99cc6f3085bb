"""Fault trials (issue 10): every test here is a trial on the real broker and real worker
and sink processes, and adds its row to the table printed at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from hallpulse import kafka_local
from hallpulse.config import KafkaSettings, Settings
from tests.chaos.trials import TRIALS, write
from tests.pipeline import ROOT, free_port

SHARED_LIBS = ROOT / "var" / "kafka" / "libs"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/chaos/" in str(item.fspath):
            item.add_marker(pytest.mark.chaos)
            item.add_marker(pytest.mark.integration)
            # a trial feeds 25,000-220,000 events through one worker on 2 cores
            item.add_marker(pytest.mark.timeout(1800))


def pytest_terminal_summary(terminalreporter):
    if TRIALS:
        terminalreporter.write_sep("=", "chaos trials")
        terminalreporter.write_line(write(TRIALS))


class Broker:
    """A local KRaft broker of a trial's own, which the trial may kill and start again on
    the same ports and data."""

    def __init__(self, var: Path):
        (var / "kafka").mkdir(parents=True)
        (var / "kafka" / "libs").symlink_to(SHARED_LIBS)
        self.settings = Settings(var_dir=var, kafka=KafkaSettings(local_port=free_port(),
                                                                  controller_port=free_port()))
        self.bootstrap = ""

    def up(self) -> str:
        self.bootstrap = kafka_local.up(self.settings, wait=120)
        return self.bootstrap

    def kill(self) -> None:
        """SIGKILL, as a machine that loses power would; reaped so that its pid is free."""
        paths = kafka_local.BrokerPaths(self.settings.kafka_dir)
        pid = int(paths.pid_file.read_text())
        os.kill(pid, signal.SIGKILL)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:  # not our child: wait until it is gone
            while Path(f"/proc/{pid}").exists():
                time.sleep(0.1)
        paths.pid_file.unlink(missing_ok=True)

    def down(self) -> None:
        kafka_local.down(self.settings)


@pytest.fixture
def own_broker(tmp_path):
    if os.environ.get("KAFKA_BOOTSTRAP"):
        pytest.skip("this trial kills the broker: it needs the project's local broker, not KAFKA_BOOTSTRAP")
    if not SHARED_LIBS.exists():
        kafka_local.fetch_jars(kafka_local.BrokerPaths(ROOT / "var" / "kafka"))
    b = Broker(tmp_path / "broker")
    b.up()
    try:
        yield b
    finally:
        b.down()


@pytest.fixture
def small_disk(tmp_path):
    """A mounted ext4 file system of its own (a loop image, no reserved blocks) for a
    trial's data directory: ``small_disk(mb)`` returns the mount point. Needs root, as the
    trials run here; skipped where mounting is not allowed."""
    mounts: list[Path] = []

    def make(mb: int) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a small file system needs root")
        image, point = tmp_path / f"disk{len(mounts)}.img", tmp_path / f"disk{len(mounts)}"
        point.mkdir()
        with open(image, "wb") as fh:
            fh.truncate(mb * 1024 * 1024)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], check=True)
        subprocess.run(["mount", "-o", "loop", str(image), str(point)], check=True)
        mounts.append(point)
        return point

    yield make
    for point in mounts:
        subprocess.run(["chattr", "-R", "-i", str(point)], capture_output=True)
        for _ in range(20):
            if subprocess.run(["umount", str(point)], capture_output=True).returncode == 0:
                break
            time.sleep(0.5)
