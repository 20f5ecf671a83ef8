"""Crash recovery: ``kill -9`` of ``nabat serve`` under load, restart, time until every
notification it had accepted has arrived at the sink."""

from __future__ import annotations

import asyncio
import math
import tempfile
import time

import aiohttp

from bench.harness import (
    free_port,
    http_sink,
    nabat_env,
    process,
    sink_arrivals,
    sink_counts,
    wait_port,
)
from bench.load import closed_loop, connector
from bench.scenarios import PATHS, Result, setup, shape


async def crash_recovery(kill_after_s: float, limit_s: float, clients: int = 8) -> Result:
    """Send API, login token, ``clients`` clients; ``kill -9`` after ``kill_after_s``
    seconds of load; restart on the same data directory and port at once.

    ``recovery_s``: from the restart (the new process spawned) until the last accepted
    notification arrived (0 when all had arrived before it; NaN when some had not after
    ``limit_s``, counted in ``missing``). ``unsent_at_kill``: accepted, not yet arrived
    when the process died. ``duplicates``: arrivals of a notification seen before.
    """
    port = free_port()
    with http_sink() as sink, tempfile.TemporaryDirectory(prefix="nabat-bench-") as data:
        env = nabat_env(data, port)
        async with aiohttp.ClientSession(connector=connector(clients)) as session:
            with process(["-m", "nabat", "serve"], env) as first:
                wait_port(port, child=first)
                base = f"http://127.0.0.1:{port}"
                headers = (await setup(session, base, sink))["token"]
                bodies = shape("send", 1).bodies(1_000_000)
                stop = asyncio.Event()
                url = base + PATHS["send", False]
                running = asyncio.create_task(
                    closed_loop(session, url, headers, bodies, clients, 3600.0, stop)
                )
                await asyncio.sleep(kill_after_s)
                first.kill()  # SIGKILL: no shutdown, no handing back
                first.wait()
                killed_at = time.time()
                stop.set()
                load = await running
            arrived_at_kill = await sink_arrivals(session, sink)
            restart_at = time.time()
            with process(["-m", "nabat", "serve"], env) as second:
                wait_port(port, child=second)
                listening = time.time() - restart_at
                deadline = time.monotonic() + limit_s
                accepted = set(load.accepted)
                while True:
                    arrivals = await sink_arrivals(session, sink)
                    missing = accepted - arrivals.keys()
                    if not missing or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.05)
                # Let late duplicates of the dead process's sends show up too.
                await asyncio.sleep(1.0)
                counts = await sink_counts(session, sink)
    late = [arrivals[n] for n in accepted if arrivals.get(n, 0.0) > restart_at]
    recovery = math.nan if missing else max(late, default=restart_at) - restart_at
    return {
        "recovery_s": recovery,
        "after_listening_s": max(recovery - listening, 0.0),
        "listening_s": listening,
        "accepted": len(accepted),
        "unsent_at_kill": len(accepted - arrived_at_kill.keys()),
        "missing": len(missing),
        "duplicates": counts["duplicates"],
        "killed_after_s": killed_at - load.started,
    }
