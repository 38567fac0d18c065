"""`send`'s progress text: plain lines for logs, a display with rate and ETA for terminals."""

from __future__ import annotations

from publisher.commands.progress import Snapshot, plain_line, terminal_line


def test_plain_line_says_whether_the_input_is_read_to_its_end() -> None:
    reading = Snapshot(46_500, 40, 60_390, input_ended=False, elapsed_s=2.0)
    assert plain_line(reading) == (
        "send: 46,540 settled of 60,390 read so far (input not at its end) "
        "(46,500 published, 40 dead-lettered), 23,270 events/s"
    )
    done = Snapshot(60_350, 40, 60_390, input_ended=True, elapsed_s=3.0)
    assert plain_line(done).startswith("send: 60,390/60,390 settled (60,350 published,")


def test_terminal_line_has_bar_count_rate_and_eta() -> None:
    snap = Snapshot(50_000, 0, 100_000, input_ended=True, elapsed_s=2.0)
    assert snap.eta_s() == 2.0
    assert terminal_line(snap) == (
        "send [##########..........]  50% 50,000/100,000 events, 25,000/s, ETA 0:00:02"
    )


def test_total_is_estimated_from_the_share_of_a_file_read() -> None:
    snap = Snapshot(10_000, 5, 20_000, False, 1.0, bytes_read=1_000_000, total_bytes=4_000_000)
    assert snap.total() == 80_000
    line = terminal_line(snap)
    assert "10,005/~80,000 events" in line
    assert ", 5 dead-lettered" in line
    assert "ETA 0:00:07" in line


def test_a_pipe_of_unknown_length_has_no_eta() -> None:
    snap = Snapshot(1_000, 0, 2_000, input_ended=False, elapsed_s=1.0)
    assert snap.total() is None
    assert terminal_line(snap) == "send [reading input] 1,000 events, 1,000/s, ETA -"
