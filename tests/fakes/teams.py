"""A fake Teams Workflows trigger, "When a Teams webhook request is received":
``POST /workflows/{id}/triggers/manual/paths/invoke?api-version=…&sp=…&sv=1.0&sig=…``.

Like the real trigger (CONTRACTS.md §4) it answers **202 with no body** for any JSON body,
with the started run's id in ``x-ms-workflow-run-id``, and only then runs the flow: the
default template's "for each attachment, post the card" fails on a body that is no
Adaptive Card message, which shows in :attr:`TeamsFake.runs` (the flow's run history),
never in the answer. Errors are the platform's, written as Logic Apps write them,
``{"error": {"code": …, "message": …}}``: 404 ``WorkflowNotFound``, 401
``DirectApiAuthorizationRequired`` without a signature and
``DirectApiInvalidAuthorizationSignature`` with a wrong one, 400 ``InvalidRequestContent``
for a body that is not JSON. Bodies over :data:`SIZE_LIMIT` get 413, the size the retired
connectors were seen to refuse (unverified for Workflows; kept to test Nabat's budget).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from tests.fakes.provider import FakeProvider, Recorded, Reply

# The channel types this fake speaks for (tests/test_channel_registry.py checks them).
SERVES = ("TEAMS",)

WORKFLOW_ID = "5f0c2a7d9e1b4c3a8d6e0f1a2b3c4d5e"
SIGNATURE = "TeamsSig-Q2xhc3NpZmllZFNpZ25hdHVyZTAxMjM0NTY3ODk"
SIZE_LIMIT = 28 * 1024
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"

_PATH = re.compile(r"^/workflows/(?P<id>[0-9a-f]+)/triggers/manual/paths/invoke$")


def platform_error(status: int, code: str, message: str, **headers: str) -> Reply:
    """An error as the Power Automate / Logic Apps front door writes it."""
    return Reply.json(status, {"error": {"code": code, "message": message}}, headers)


@dataclass(frozen=True)
class Run:
    """One run of the flow, as its run history shows it."""

    run_id: str
    succeeded: bool
    error: str | None


def _flow_error(body: Any) -> str | None:
    """Why the default template's flow fails on ``body`` (its run-history error)."""
    attachments = body.get("attachments") if isinstance(body, dict) else None
    if not isinstance(attachments, list):
        return (
            "The execution of template action 'Send_each_adaptive_card' failed: the result "
            "of the evaluation of 'foreach' expression "
            "'@triggerOutputs()?['body']?['attachments']' is of type 'Null'."
        )
    for attachment in attachments:
        content = attachment.get("content") if isinstance(attachment, dict) else None
        if not isinstance(content, dict) or content.get("type") != "AdaptiveCard":
            return "Property 'type' must be 'AdaptiveCard'."
        if attachment.get("contentType") != ADAPTIVE_CARD:
            return f"Attachment contentType must be '{ADAPTIVE_CARD}'."
    return None


class TeamsFake(FakeProvider):
    """One workflow; ``runs`` is its run history, ``cards`` the cards it posted."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[Run] = []
        self.cards: list[dict[str, Any]] = []
        self._run_ids = itertools.count(8584937459243711001)

    @property
    def workflow_url(self) -> str:
        """What to configure as ``webhookUrl``."""
        return (
            f"{self.base_url}/workflows/{WORKFLOW_ID}/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIGNATURE}"
        )

    async def answer(self, request: Recorded) -> Reply:
        """The trigger's answer to ``request``; the flow's run is recorded in ``runs``."""
        route = _PATH.match(request.path)
        if route is None or route["id"] != WORKFLOW_ID or request.method != "POST":
            return platform_error(404, "WorkflowNotFound", "The workflow could not be found.")
        signature = request.query.get("sig")
        if signature is None:
            return platform_error(
                401,
                "DirectApiAuthorizationRequired",
                "The request must be authenticated only by Shared Access scheme.",
            )
        if signature != SIGNATURE:
            return platform_error(
                401,
                "DirectApiInvalidAuthorizationSignature",
                "The provided authorization signature is not valid.",
            )
        if len(request.body) > SIZE_LIMIT:
            return Reply(413, "<html><body>Request Entity Too Large</body></html>", {}, "text/html")
        body = request.json()
        if body is None:
            return platform_error(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized.",
            )
        run_id = str(next(self._run_ids))
        error = _flow_error(body)
        self.runs.append(Run(run_id, error is None, error))
        if error is None:
            self.cards.extend(attachment["content"] for attachment in body["attachments"])
        return Reply(
            202,
            "",
            {
                "x-ms-workflow-run-id": run_id,
                "x-ms-correlation-id": "3a1f0e5c-7b2d-4c9e-8f61-0d2c4b6a8e10",
            },
        )
