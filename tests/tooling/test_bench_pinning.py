"""The bench moves a system server's threads to core 0 for a run and gives them back after."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bench.cpu import SERVER_CORE, can_pin, system_server_on_server_core


@pytest.mark.skipif(not can_pin(), reason="needs taskset and two cores")
def test_every_thread_of_the_named_processes_moves_and_comes_back(tmp_path: Path) -> None:
    # A copy of `sleep` under a name no other process has stands for the system service.
    name = f"srv{os.getpid()}"[:15]
    program = tmp_path / name
    program.write_bytes(
        Path(subprocess.check_output(["which", "sleep"], text=True).strip()).read_bytes()
    )
    program.chmod(0o755)
    server = subprocess.Popen([str(program), "60"])
    try:
        before = os.sched_getaffinity(server.pid)
        assert before != {SERVER_CORE}
        with system_server_on_server_core(name) as moved:
            assert moved == 1
            assert os.sched_getaffinity(server.pid) == {SERVER_CORE}
        assert os.sched_getaffinity(server.pid) == before
    finally:
        server.kill()
        server.wait()


def test_a_name_no_process_has_moves_nothing() -> None:
    with system_server_on_server_core("no-such-server") as moved:
        assert moved == 0
