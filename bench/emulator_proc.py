"""`partner-publisher emulator` as the benchmarks run it: its event log kept out of full GCs.

The emulator keeps every event it accepts (a few objects each) for the checks, and each of
the interpreter's full collections walks all of them: at 50,000 events in latency_5k those
pauses were 80-190 ms (timed with gc.callbacks), during which no call is answered, and they
were most of the measured p99. Freezing what survives each generation-1 collection leaves full
collections almost nothing to walk. Only the emulator runs like this, never a process under
test; the cost is that cyclic garbage old enough to be frozen is never freed, which a
benchmark run does not notice.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

from publisher.cli import main


def _freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info["generation"] >= 1:
        gc.freeze()


if __name__ == "__main__":
    gc.callbacks.append(_freeze_survivors)
    raise SystemExit(main(sys.argv[1:]))
