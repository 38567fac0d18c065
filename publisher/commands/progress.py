"""`send`'s progress on stderr: a redrawn line with count, rate and ETA on a terminal, plain
lines otherwise (logs, pipes, CI).

While the input is still being read the total is not known yet: the plain line says how many
lines were read so far; the terminal display estimates the total from the share of the file's
bytes read (a file) or shows no ETA (a pipe).
"""

from __future__ import annotations

from dataclasses import dataclass

BAR_CELLS = 20


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What `send` knows at one moment."""

    published: int
    dead_lettered: int
    lines_read: int
    input_ended: bool
    elapsed_s: float
    bytes_read: int = 0
    total_bytes: int | None = None  # a regular file's size; None for a pipe

    @property
    def settled(self) -> int:
        return self.published + self.dead_lettered

    @property
    def rate(self) -> float:
        return self.settled / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def total(self) -> int | None:
        """The number of events: exact once read, estimated from the bytes of a file before."""
        if self.input_ended:
            return self.lines_read
        if self.total_bytes and self.bytes_read:
            return max(self.lines_read, round(self.lines_read * self.total_bytes / self.bytes_read))
        return None

    def eta_s(self) -> float | None:
        total = self.total()
        if total is None or self.rate <= 0:
            return None
        return max(total - self.settled, 0) / self.rate


def plain_line(snap: Snapshot) -> str:
    """One line for logs; says outright whether the input has been read to its end."""
    if snap.input_ended:
        of = f"{snap.settled:,}/{snap.lines_read:,} settled"
    else:
        of = f"{snap.settled:,} settled of {snap.lines_read:,} read so far (input not at its end)"
    return (
        f"send: {of} ({snap.published:,} published, {snap.dead_lettered:,} dead-lettered), "
        f"{snap.rate:,.0f} events/s"
    )


def terminal_line(snap: Snapshot) -> str:
    """The redrawn display: bar, count, percentage, rate, ETA."""
    total = snap.total()
    if total:
        share = min(snap.settled / total, 1.0)
        filled = round(share * BAR_CELLS)
        bar = "[" + "#" * filled + "." * (BAR_CELLS - filled) + f"] {share:4.0%}"
        approx = "" if snap.input_ended else "~"
        count = f"{snap.settled:,}/{approx}{total:,}"
    else:
        bar, count = "[reading input]", f"{snap.settled:,}"
    eta = snap.eta_s()
    eta_text = f"ETA {_clock(eta)}" if eta is not None else "ETA -"
    dead = f", {snap.dead_lettered:,} dead-lettered" if snap.dead_lettered else ""
    return f"send {bar} {count} events, {snap.rate:,.0f}/s, {eta_text}{dead}"


def _clock(seconds: float) -> str:
    whole = int(seconds + 0.5)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
