"""TEAMS delivery: one POST of an Adaptive Card to a Workflows trigger (CONTRACTS.md §4).

A workflow answers 202 as soon as it has queued a run, before it posts anything to Teams;
a card the flow cannot post still gets 202 and fails later, in the flow's run history.
So success here is "accepted", never "delivered", and the receipt says so.

The URL's ``sig`` parameter is a bearer credential: the outbound client names the host
only, and reasons are scrubbed of the URL, its query and the signature on the way out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage, Receipt
from nabat.channels.http_status import classify_status, parse_retry_after, snippet
from nabat.channels.outbound import HttpAnswer, Outbound
from nabat.channels.redact import scrubbed
from nabat.channels.teams_card import card_payload

if TYPE_CHECKING:
    from nabat.channels.teams import TeamsConfig

WHAT = "the Teams workflow"
DEFAULT_TIMEOUT_S = 15.0

ACCEPTED = (
    "accepted by the Teams workflow, not yet delivered: the workflow posts the card to the "
    "channel on its own; if it does not appear, see the flow's run history"
)
"""The receipt's detail: what a 202 does and does not say."""

RUN_ID_HEADER = "x-ms-workflow-run-id"
"""The run the trigger started, as the flow's run history lists it."""

_RECREATE = (
    "; create the workflow again in Teams (Workflows, template 'Post to a channel when a "
    "webhook request is received') and update the channel's URL"
)


def teams_secrets(url: str) -> tuple[str, ...]:
    """What of a workflow URL never to show: the URL, its query and its signature."""
    query = urlsplit(url).query
    signatures = tuple(value for key, value in parse_qsl(query) if key.lower() == "sig")
    raw = tuple(part.partition("=")[2] for part in query.split("&") if part.startswith("sig="))
    return (url, query, *signatures, *raw)


def _said(answer: HttpAnswer) -> str:
    """What the platform said, to quote after the status: Logic Apps write errors as
    ``{"error": {"code": …, "message": …}}``; any other body is quoted as a snippet."""
    data = answer.json()
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        parts = [
            snippet(part) for part in (code, message) if isinstance(part, str) and part.strip()
        ]
        return f" ({': '.join(parts)})" if parts else ""
    excerpt = snippet(answer.text)
    return f": {excerpt}" if excerpt else ""


def classify_answer(answer: HttpAnswer) -> DeliveryError:
    """The :class:`DeliveryError` for a non-2xx answer of a workflow trigger."""
    status = answer.status
    said = _said(answer)
    if status == 429:
        wait = parse_retry_after(answer.headers.get("Retry-After"))
        asked = f"; it asked to wait {wait:g} s" if wait is not None else ""
        return DeliveryError(
            FailureClass.THROTTLED,
            f"Teams Workflows is throttling this workflow (HTTP 429){said}{asked}",
            status=status,
            retry_after=wait,
        )
    if status in (401, 403):
        return DeliveryError(
            FailureClass.AUTH,
            f"the workflow refused the URL's signature (HTTP {status}){said}; copy the URL "
            "again from the workflow's trigger 'When a Teams webhook request is received' "
            "(it must keep its sig=… parameter)",
            status=status,
        )
    if status in (404, 410):
        return DeliveryError(
            FailureClass.GONE,
            f"the workflow does not exist any more (HTTP {status}){said}{_RECREATE}",
            status=status,
        )
    if status == 413:
        return DeliveryError(
            FailureClass.REJECTED,
            f"the card is too large for the workflow (HTTP 413){said}; lower maxCardBytes",
            status=status,
        )
    if 400 <= status < 500 and status != 408:
        return DeliveryError(
            FailureClass.REJECTED,
            f"the workflow rejected the card (HTTP {status}){said}",
            status=status,
        )
    generic = classify_status(
        status,
        body=answer.text,
        retry_after=parse_retry_after(answer.headers.get("Retry-After")),
        what="Teams workflow",
    )
    assert generic is not None  # callers pass failures only
    return generic


class TeamsSender:
    """Posts a message as an Adaptive Card to a Teams Workflows webhook."""

    def __init__(self, outbound: Outbound, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._outbound = outbound
        self._timeout_s = timeout_s

    async def send(self, config: TeamsConfig, message: OutgoingMessage) -> Receipt:
        """One POST of the card; returns a receipt saying it was accepted (with the run id
        when the trigger names it), raises :class:`DeliveryError` otherwise."""
        url = config.webhook_url.get_secret_value()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        try:
            answer = await self._outbound.request(
                "POST",
                url,
                what=WHAT,
                timeout_s=self._timeout_s,
                data=card_payload(message, config.max_card_bytes),
                headers=headers,
            )
            if not 200 <= answer.status < 300:
                raise classify_answer(answer)
        except DeliveryError as exc:
            raise scrubbed(exc, *teams_secrets(url)) from None
        return Receipt(
            status=answer.status, provider_id=answer.headers.get(RUN_ID_HEADER), detail=ACCEPTED
        )
