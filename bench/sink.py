"""HTTP sink for benchmarks, run in its own process: records when each message arrives.

Usage: python -m bench.sink PORT
"""

from __future__ import annotations

import json
import sys
import time

from aiohttp import web

arrivals: list[tuple[float, int]] = []


async def receive(request: web.Request) -> web.Response:
    """Record the arrival time and the batch number carried in the payload's metadata."""
    body = await request.read()
    batch = -1
    try:
        document = json.loads(body)
        batch = int(document.get("metadata", {}).get("batch", -1))
    except (ValueError, AttributeError, TypeError):
        pass
    arrivals.append((time.time(), batch))
    return web.Response(text="ok")


async def stats(_request: web.Request) -> web.Response:
    """Everything recorded so far."""
    return web.json_response({"count": len(arrivals), "arrivals": arrivals})


async def count(_request: web.Request) -> web.Response:
    """Just the count, for cheap polling."""
    return web.json_response({"count": len(arrivals)})


async def reset(_request: web.Request) -> web.Response:
    """Forget everything."""
    arrivals.clear()
    return web.json_response({"count": 0})


def main() -> None:
    """Serve on 127.0.0.1:PORT."""
    app = web.Application()
    app.router.add_get("/_stats", stats)
    app.router.add_get("/_count", count)
    app.router.add_post("/_reset", reset)
    app.router.add_route("*", "/{tail:.*}", receive)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
