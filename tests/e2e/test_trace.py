"""`trace` and `GET /v1/events/{id}` on a spool daemon: its ledger is SQLite beside the spool."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import emulator_process, run_cli, wait_until
from tests.e2e.processes import (
    LENIENT,
    daemon,
    emulator_events,
    http_json,
    set_faults,
    write_config,
)


def event(n: int, **extra: Any) -> dict[str, Any]:
    return {"tenant": "acme", "detail_type": "T", "detail": {"n": n}, **extra}


def trace(config: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    done = run_cli("trace", "--config", str(config), *args, "--output", "json", timeout_s=30)
    return done.returncode, json.loads(done.stdout.splitlines()[-1]), done.stdout


def test_trace_and_the_admin_port_answer_for_published_and_dead_lettered_events(
    tmp_path: Path,
) -> None:
    with emulator_process(LENIENT) as url:
        config = write_config(tmp_path, url, ledger={"flush_interval_s": 0.05})
        with daemon(config) as proc:
            assert proc.post(json.dumps(event(1, id="ord-1")).encode())[0] == 202
            wait_until(lambda: len(emulator_events(url)) == 1, 10, "the event published")
            set_faults(url, entry_error_rates={"AccessDeniedException": 1.0})
            assert proc.post(json.dumps(event(2, id="ord-2")).encode())[0] == 202

            def admin(path: str) -> tuple[int, Any]:
                return http_json(f"{proc.admin_url}{path}")

            wait_until(lambda: admin("/v1/events/ord-2")[0] == 200, 10, "the dead letter traced")
            status, published = admin("/v1/events/ord-1?tenant=acme")
            assert status == 200
            assert published["state"] == "published"
            assert published["aws_event_id"] == emulator_events(url)[0]["id"]
            status, dead = admin("/v1/events/ord-2")
            assert (dead["state"], dead["reason"], dead["attempts"]) == (
                "dead_lettered",
                "rejected",
                1,
            )
            status, other = admin("/v1/events/ord-1?tenant=globex")
            assert (status, other["state"], other["tenant"]) == (404, "unknown", "globex")

        code, found, text = trace(config, "ord-1")
        assert code == 0
        assert found == published
        assert "published" in text.splitlines()[0] + text.splitlines()[1]
        code, found, _ = trace(config, "ord-2", "--tenant", "acme")
        assert (code, found) == (0, dead)
        code, found, _ = trace(config, "ord-3")
        assert (code, found["state"], found["id"]) == (1, "unknown", "ord-3")
    assert (tmp_path / "ledger.db").exists()  # beside the spool


def test_with_the_ledger_off_trace_knows_nothing_and_says_why(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", ledger={"retention_s": 0})
    done = run_cli("trace", "--config", str(config), "ord-1", timeout_s=30)
    assert done.returncode == 1
    assert "ledger is off" in done.stderr
