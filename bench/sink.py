"""HTTP sink for benchmarks, run in its own process: records when each message arrives.

Usage: python -m bench.sink PORT

Every message the bench sends carries a marker ``nbid-<n>`` (in its text, or in an
alert's labels), so the sink needs to know nothing of any payload's shape: a Nabat
webhook, an Alertmanager webhook with many alerts inside, or the client ceiling's dummy
body are all read the same way. The first arrival of each marker is kept with its time;
a marker seen again is counted as a duplicate.
"""

from __future__ import annotations

import re
import sys
import time

from aiohttp import web

MARKER = re.compile(rb"nbid-(\d+)")

first: dict[int, float] = {}
duplicates = 0
requests = 0


async def receive(request: web.Request) -> web.Response:
    """Record the arrival time of every marker in the body (once per body)."""
    global duplicates, requests
    body = await request.read()
    now = time.time()
    requests += 1
    # A set: one alert's marker appears in its labels, group labels and group key alike.
    for raw in set(MARKER.findall(body)):
        number = int(raw)
        if number in first:
            duplicates += 1
        else:
            first[number] = now
    return web.Response(text="ok")


async def count(_request: web.Request) -> web.Response:
    """Counts only, for cheap polling."""
    return web.json_response({"count": len(first), "duplicates": duplicates, "requests": requests})


async def stats(_request: web.Request) -> web.Response:
    """Every marker's first arrival time, and the counts."""
    return web.json_response(
        {
            "count": len(first),
            "duplicates": duplicates,
            "requests": requests,
            "arrivals": [[number, at] for number, at in first.items()],
        }
    )


async def reset(_request: web.Request) -> web.Response:
    """Forget everything."""
    global duplicates, requests
    first.clear()
    duplicates = requests = 0
    return web.json_response({"count": 0})


def main() -> None:
    """Serve on 127.0.0.1:PORT."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/_stats", stats)
    app.router.add_get("/_count", count)
    app.router.add_post("/_reset", reset)
    app.router.add_route("*", "/{tail:.*}", receive)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
