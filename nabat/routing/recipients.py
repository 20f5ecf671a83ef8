"""Who a delivery goes to: people and raw addresses turned into each channel's address."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from nabat.channels.registry import channel_type as registered_type

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TELEGRAM = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$")
_PHONE = re.compile(r"^\+[1-9]\d{7,14}$")
_RAW = {"EMAIL": _EMAIL, "TELEGRAM": _TELEGRAM, "PHONE": _PHONE}


class PersonLike(Protocol):
    """A project member with contact points (``nabat.services.contacts.Person``)."""

    @property
    def id(self) -> int:
        """The user's id (an in-app channel's address)."""

    @property
    def username(self) -> str:
        """The login name."""

    @property
    def display_name(self) -> str | None:
        """The name to greet them by."""

    @property
    def contacts(self) -> Mapping[str, tuple[str, ...]]:
        """Contact values by kind (EMAIL first being the account's own address)."""


@dataclass(frozen=True)
class Target:
    """One recipient of one delivery: the address to use and the name to show."""

    address: str | None
    name: str | None = None
    # The recipient as the rule or event named it (None: the channel's own destination).
    ref: str | None = None


@dataclass
class Expansion:
    """The targets of one action, and what could not be addressed (notes)."""

    targets: list[Target] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)


def expand(
    *,
    refs: tuple[str, ...],
    channel_type: str,
    people: Mapping[str, PersonLike],
    allow_unregistered: bool,
    lenient: bool = False,
) -> Expansion:
    """Targets for ``refs`` (user ids, usernames, e-mails or raw addresses) on a channel.

    No refs, or a channel that is not personal, gives one target: the channel's own
    destination. A ref that is not a member becomes a raw address when the project allows
    unregistered recipients and the ref has the channel's address form; otherwise it is a
    ``USER_NOT_FOUND`` note. ``lenient`` (the send API, whose ``username`` is also just a
    name in the payload) falls back to the channel's own destination instead of dropping
    the message. On the in-app channel (address kind ``USER``) a member's address is
    their user id, and nobody else can be reached, whatever the project allows.
    """
    result = Expansion()
    # Personal types address one person per message; the others post to a fixed place
    # (a Slack channel, a webhook) and get the recipients' names in the payload instead.
    descriptor = registered_type(channel_type)
    kind = descriptor.address_kind if descriptor else None
    if not refs or kind is None:
        names = [people[ref].username if ref in people else ref for ref in refs]
        result.targets.append(Target(None, ", ".join(names) or None))
        return result
    for ref in refs:
        person = people.get(ref)
        if person is not None:
            if kind == "USERNAME":
                result.targets.append(Target(person.username, person.display_name, ref))
                continue
            if kind == "USER":
                name = person.display_name or person.username
                result.targets.append(Target(str(person.id), name, ref))
                continue
            values = person.contacts.get(kind, ())
            if values:
                result.targets.append(
                    Target(values[0], person.display_name or person.username, ref)
                )
                continue
            if lenient:
                result.targets.append(Target(None, person.username, ref))
            result.notes.append(
                {
                    "code": "NO_CONTACT_POINT",
                    "recipient": ref,
                    "message": f"user {person.username!r} has no {kind} contact point; add one "
                    "with POST /api/v1/users/me/contact-points",
                }
            )
            continue
        pattern = _RAW.get(kind)
        if allow_unregistered and (kind == "USERNAME" or (pattern and pattern.match(ref))):
            result.targets.append(Target(ref, None, ref))
            continue
        if lenient:
            result.targets.append(Target(None, ref, ref))
        result.notes.append(
            {
                "code": "USER_NOT_FOUND",
                "recipient": ref,
                "message": _not_member(ref, kind, allow_unregistered),
            }
        )
    return result


def _not_member(ref: str, kind: str, allow_unregistered: bool) -> str:
    if kind == "USER":
        # An inbox belongs to an account: an outsider has none, whatever the project allows.
        return f"{ref!r} is not a member of this project; in-app notifications reach members only"
    if allow_unregistered:
        return f"{ref!r} is not a member of this project"
    return (
        f"{ref!r} is not a member of this project; to send to addresses of people without an "
        "account, turn on allowUnregisteredRecipients in /api/v1/settings/mail"
    )
