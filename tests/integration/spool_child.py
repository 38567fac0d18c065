"""A child process for the spool crash tests: puts or consumes, printing what is committed.

usage: spool_child.py put PATH BATCH | consume PATH BATCH
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from publisher.inputs.spool.input import SpoolInput
from publisher.settings import SpoolInputSettings


async def put_forever(spool: SpoolInput, batch: int) -> None:
    number = 0
    while True:
        await spool.put([f"{number}:{i}".encode() for i in range(batch)])
        print(f"committed {number}", flush=True)
        number += 1


async def consume_until_empty(spool: SpoolInput, batch: int) -> None:
    while messages := await spool.fetch(batch, wait_s=0.2):
        print("fetched " + ",".join(m.id for m in messages), flush=True)
        await spool.ack(messages)
        print("acked " + ",".join(m.id for m in messages), flush=True)
    print("done", flush=True)


async def main(mode: str, path: str, batch: int) -> None:
    # The consumer lock is taken only to consume: a putting child must not block the test.
    settings = SpoolInputSettings(path=Path(path), visibility_timeout_s=30)
    spool = SpoolInput(settings, consumer=mode == "consume")
    await spool.start()
    print("ready", flush=True)
    if mode == "put":
        await put_forever(spool, batch)
    else:
        await consume_until_empty(spool, batch)
    await spool.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
