"""PYTHON_BOT delivery: ``POST {botUrl}/send_notification`` with PingTower's body."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage, Receipt
from nabat.channels.http_status import classify_status, parse_retry_after
from nabat.channels.outbound import Outbound

if TYPE_CHECKING:
    from nabat.channels.python_bot import PythonBotConfig


def bot_body(message: OutgoingMessage) -> dict[str, Any]:
    """The bot's request body, in the snake_case keys PingTower's bot expects."""
    payload = message.payload
    return {
        "username": message.recipient or payload.get("username"),
        "service_name": payload.get("serviceName"),
        "service_url": payload.get("serviceUrl"),
        "status": payload.get("status"),
        "message": payload.get("message") or message.text,
    }


class PythonBotSender:
    """Hands the notification to PingTower's companion bot; HTTP 200 means delivered."""

    def __init__(self, outbound: Outbound) -> None:
        self._outbound = outbound

    async def send(self, config: PythonBotConfig, message: OutgoingMessage) -> Receipt:
        """One request to the bot."""
        url = config.bot_url.rstrip("/") + "/send_notification"
        answer = await self._outbound.request(
            "POST",
            url,
            what="Python bot",
            timeout_s=config.timeout,
            json=bot_body(message),
            headers={"X-Nabat-Delivery-Id": message.delivery_id},
        )
        if answer.status == 200:
            return Receipt(status=200, detail="HTTP 200")
        error = classify_status(
            answer.status,
            body=answer.text,
            retry_after=parse_retry_after(answer.headers.get("Retry-After")),
            what="Python bot",
        )
        raise error or DeliveryError(
            FailureClass.UPSTREAM,
            f"the Python bot answered HTTP {answer.status}, not 200",
            status=answer.status,
        )
