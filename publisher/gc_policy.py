"""The process's garbage-collector policy: thresholds from the start, a freeze once warmed up.

Both serve the same end: a collection's cost should be proportional to the garbage the work
makes, not to the objects start-up leaves behind for the life of the process.
"""

from __future__ import annotations

import gc

# The collector's thresholds per generation (young, middle, old). Python's default of 700
# allocations would collect the young generation several times per PutPartnerEvents call (each
# allocates thousands of short-lived objects: entries, results, aiohttp's request), and
# start-up's imports many times over; these collect the same garbage, only less often.
GC_THRESHOLDS = (20_000, 20, 20)


def set_thresholds() -> None:
    """Before a command's imports, the first to benefit."""
    gc.set_threshold(*GC_THRESHOLDS)


def pause_until_frozen() -> None:
    """No collection until `freeze_start_up` (or `resume`): everything start-up makes stays for
    the life of the process, and freezing it skips the one collection that would traverse it
    all to free nothing. Only for a command that freezes soon after its start-up."""
    gc.disable()


def resume() -> None:
    gc.enable()


def freeze_start_up() -> None:
    """Keep what start-up made (botocore's service models among it) out of later collections.

    Call once the AWS clients are warmed up. Start-up leaves next to no cyclic garbage, so no
    collection runs first; once per process, since later objects are the work's own.
    """
    if not gc.get_freeze_count():
        gc.freeze()
    resume()
