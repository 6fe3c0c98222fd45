"""Garbage collection that does not stall requests.

The departments' data loaded at start (ledgers, caches: hundreds of thousands of objects)
lives as long as the process. Without care, every full collection walks it again: full
collections of 0.3-1 s were measured under load on the 83k demo, and every request in the
process waits for them. Once start-up is over (every department answered or loaded its
first version), ``gc.freeze()`` moves what exists to the permanent generation, so later
collections only walk what requests allocate.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

log = logging.getLogger("gateway")
POLL_S = 0.5
GIVE_UP_S = 600.0


async def freeze_after_start(registry: Any) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < GIVE_UP_S:
        _, body = registry.readiness()
        if body["status"] != "starting":
            break
        await asyncio.sleep(POLL_S)
    gc.collect()
    gc.freeze()
    log.info("start-up data frozen for the garbage collector: %d objects", gc.get_freeze_count())
