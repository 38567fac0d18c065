"""Row 15: idle and trickling connections are closed, and their number is capped."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.conftest import emulator_process
from tests.e2e.processes import LENIENT, daemon, event_lines, write_config

IDLE_TIMEOUT_S = 2
MAX_CONNECTIONS = 50


def closed_by_peer(sock: socket.socket, timeout_s: float) -> bool:
    """True once the server closes the connection (EOF or reset) within timeout_s."""
    sock.settimeout(timeout_s)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_idle_and_trickling_connections_are_closed_and_capped(tmp_path: Path) -> None:
    # Before: 200 slowloris connections at 1 byte/s and 1,000 idle ones: none closed.
    ingest = {"idle_timeout_s": IDLE_TIMEOUT_S, "max_connections": MAX_CONNECTIONS}
    with (
        emulator_process(LENIENT) as url,
        daemon(write_config(tmp_path, url, ingest=ingest)) as proc,
    ):
        port = int(proc.ingest_url.rsplit(":", 1)[1])
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(MAX_CONNECTIONS)]
        over = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
        trickler = idle[-1]
        try:
            # Past the cap: closed at once.
            assert all(closed_by_peer(sock, 2) for sock in over)
            # Trickling headers count as idle: closed although a byte arrives every 0.5 s.
            idle = idle[:-1]
            trickler.sendall(b"POST /v1/events HTTP/1.1\r\n")
            started = time.monotonic()
            closed = False
            while not closed and time.monotonic() - started < IDLE_TIMEOUT_S * 4:
                try:
                    trickler.sendall(b"X")
                except OSError:
                    closed = True
                    break
                closed = closed_by_peer(trickler, 0.5)
            assert closed, "a trickling connection was kept open"
            # Idle ones: closed after the timeout, not before.
            assert all(closed_by_peer(sock, IDLE_TIMEOUT_S * 3) for sock in idle)
            assert time.monotonic() - started >= IDLE_TIMEOUT_S * 0.5
            # And the service answers as before.
            assert proc.post(event_lines([1]).encode())[0] == 202
        finally:
            for sock in [*idle, *over, trickler]:  # closing twice is harmless
                sock.close()
        assert '"event": "connection_refused"' in proc.logs()
        assert '"event": "idle_connections_closed"' in proc.logs()
