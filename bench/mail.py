"""E-mail: Nabat's EMAIL channel against a local aiosmtpd sink, beside the sink's ceiling."""

from __future__ import annotations

import asyncio
import time
from email.message import EmailMessage

import aiohttp
import aiosmtplib

from bench.harness import json_call, login, nabat, smtp_sink, wait_port
from bench.load import Shape, closed_loop, notification

CONNECTIONS = 8


def _mail(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "bench@example.org"
    message["To"] = "sink@example.org"
    message["Subject"] = f"bench {n}"
    message.set_content("benchmark message")
    return message


async def _count(session: aiohttp.ClientSession, port: int) -> int:
    body = await json_call(session, "GET", f"http://127.0.0.1:{port + 1}/_count")
    return int(body["count"])


async def smtp_ceiling(total: int) -> dict[str, float]:
    """Messages/s that 8 reused aiosmtplib connections get from the sink."""
    with smtp_sink() as port:
        queue = iter(range(total))
        start = time.perf_counter()

        async def worker() -> None:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
            await client.connect()
            for n in queue:
                await client.send_message(_mail(n))
            await client.quit()

        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        return {"throughput": total / (time.perf_counter() - start)}


async def nabat_email(total: int, limit_s: float = 120.0) -> dict[str, float]:
    """Messages/s of ``total`` e-mails sent through Nabat (``nabat serve``, 8 pooled SMTP
    connections), posted in batches of 100 to the send API with the login token."""
    with smtp_sink() as port, nabat(extra_env={"NABAT_SMTP_POOL_SIZE": "8"}) as server:
        wait_port(port)
        async with aiohttp.ClientSession() as session:
            headers = await login(session, server.base)
            channel = await json_call(
                session,
                "POST",
                f"{server.base}/api/v1/notifications/channels",
                headers=headers,
                json={
                    "name": "smtp sink",
                    "type": "EMAIL",
                    "configuration": {
                        "smtpHost": "127.0.0.1",
                        "smtpPort": port,
                        "encryption": "none",
                        "auth": False,
                        "fromEmail": "nabat@example.org",
                        "fromName": "Nabat bench",
                        "replyTo": "support@example.org",
                        "to": ["sink@example.org"],
                    },
                },
            )

            def item(n: int) -> dict[str, object]:
                return notification(n) | {"channelId": channel["id"]}

            bodies = Shape(item, 100, wrap="notifications").bodies(total)
            url = f"{server.base}/api/v1/notifications/send/batch"
            load = await closed_loop(session, url, headers, bodies, 2, limit_s)
            deadline = time.monotonic() + limit_s
            while await _count(session, port) < len(load.accepted):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.02)
            arrived = await _count(session, port)
            return {"throughput": arrived / (time.time() - load.started)}
