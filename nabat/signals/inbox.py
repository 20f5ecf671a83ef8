"""The ``inbox`` signal's payload: whose inboxes changed, and up to which change.

A payload is comma-separated ``user:change`` pairs (``"7:1042,9:1043"``), one per user,
with the highest change id that user's inbox got. It names no item and says nothing of
what changed: a live stream reads that user's change rows after the last one it sent
(``nabat.models.inbox.InboxChange``), so a lost or repeated signal costs nothing but a
read. Payloads are kept far below PostgreSQL's NOTIFY limit by splitting them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Bytes per payload at most: half the seam's limit, so it is never the one to refuse.
PAYLOAD_BUDGET = 4000


@dataclass(frozen=True)
class InboxNews:
    """One change to a person's inbox, announced after the commit that made it."""

    user_id: int
    change_id: int


def inbox_payloads(news: Iterable[InboxNews]) -> list[str]:
    """The payloads announcing ``news``: each user once, with their latest change id,
    in as few payloads of at most :data:`PAYLOAD_BUDGET` bytes as it takes."""
    latest: dict[int, int] = {}
    for one in news:
        latest[one.user_id] = max(one.change_id, latest.get(one.user_id, 0))
    payloads: list[str] = []
    pairs: list[str] = []
    size = 0
    for user_id, change_id in latest.items():
        pair = f"{user_id}:{change_id}"
        if pairs and size + 1 + len(pair) > PAYLOAD_BUDGET:
            payloads.append(",".join(pairs))
            pairs, size = [], 0
        size += len(pair) + (1 if pairs else 0)
        pairs.append(pair)
    if pairs:
        payloads.append(",".join(pairs))
    return payloads


def read_inbox_payload(payload: str) -> dict[int, int]:
    """The users a payload names, with each one's latest change id; a part that is not a
    ``user:change`` pair of numbers is skipped (a listener then reads nothing for it)."""
    found: dict[int, int] = {}
    for part in payload.split(","):
        user, _, change = part.strip().partition(":")
        if user.isascii() and user.isdecimal() and change.isascii() and change.isdecimal():
            found[int(user)] = max(int(change), found.get(int(user), 0))
    return found
