"""The bench moves a system server's threads to core 0 for a run and gives them back after."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.cpu import SERVER_CORE, can_pin, system_server_on_server_core

# Stands for a system service: the process takes a name no other has, and its second thread
# names itself, as Erlang's schedulers do inside beam.smp.
SERVER = """
import os, sys, threading
open("/proc/self/comm", "w").write(sys.argv[1])
named = threading.Event()
def scheduler():
    open(f"/proc/self/task/{threading.get_native_id()}/comm", "w").write("1_scheduler")
    named.set()
    threading.Event().wait(60)
threading.Thread(target=scheduler, daemon=True).start()
named.wait()
print(" ".join(os.listdir("/proc/self/task")), flush=True)
threading.Event().wait(60)
"""


@pytest.mark.skipif(not can_pin(), reason="needs taskset and two cores")
def test_every_thread_of_the_named_process_moves_and_comes_back() -> None:
    name = f"srv{os.getpid()}"[:15]
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, name], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        threads = [int(tid) for tid in server.stdout.readline().split()]
        assert len(threads) == 2
        before = {tid: os.sched_getaffinity(tid) for tid in threads}
        assert all(cores != {SERVER_CORE} for cores in before.values())
        with system_server_on_server_core(name) as moved:
            assert moved == 2
            assert all(os.sched_getaffinity(tid) == {SERVER_CORE} for tid in threads)
        assert {tid: os.sched_getaffinity(tid) for tid in threads} == before
    finally:
        server.kill()
        server.communicate()


def test_a_name_no_process_has_moves_nothing() -> None:
    with system_server_on_server_core("no-such-server") as moved:
        assert moved == 0
