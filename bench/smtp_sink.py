"""SMTP sink for benchmarks, run in its own process: counts messages, keeps nothing.

Usage: python -m bench.smtp_sink PORT   (count served over HTTP on PORT+1 at /_count)
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller

received = 0


class Counter:
    """aiosmtpd handler that accepts every message."""

    async def handle_DATA(self, _server: Any, _session: Any, _envelope: Any) -> str:  # noqa: N802
        """Count and accept."""
        global received
        received += 1
        return "250 OK"


async def count(_request: web.Request) -> web.Response:
    """How many messages arrived."""
    return web.json_response({"count": received})


async def serve(port: int) -> None:
    """Run the SMTP sink and its counter endpoint until killed."""
    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    app = web.Application()
    app.router.add_get("/_count", count)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port + 1).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
