"""What each person wants at routing time: their switches per notification type and
channel kind over the project's defaults, and their quiet hours.

Pure decisions over what :mod:`nabat.services.preference_store` loaded; the project-wide
switch of a type is decided before (``TYPE_DISABLED`` is the master switch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from nabat.channels.registry import channel_type as registered_type
from nabat.routing.quiet_hours import QuietWindow
from nabat.routing.snapshot import iso
from nabat.sentences import Sentence

CRITICAL = "CRITICAL"


@dataclass(frozen=True)
class Verdict:
    """What a person's settings make of one delivery to them: ``off`` is why it is not
    sent (stored SUPPRESSED, by PREFERENCE), ``until`` when it may go (held QUEUED)."""

    off: str | None = None
    until: datetime | None = None


GOES = Verdict()


class Named(Protocol):
    """A person as a note names them."""

    @property
    def username(self) -> str:
        """The login name."""


def held_note(channel_id: int, ref: str | None, person: Named, until: datetime) -> dict[str, Any]:
    """The event's note for a delivery that waits out someone's quiet hours."""
    return {
        "code": "QUIET_HOURS",
        "recipient": ref,
        "message": Sentence(
            "the delivery over channel {channel} waits until {until}, when the quiet hours "
            "of {person} end",
            channel=channel_id,
            until=iso(until),
            person=person.username,
        ),
    }


def left_out_note(channel_id: int, ref: str | None, off: str) -> dict[str, Any]:
    """The event's note for a fallback channel left out by someone's switch."""
    return {
        "code": "PREFERENCE",
        "recipient": ref,
        "message": Sentence(
            "channel {channel} is left out of the fallback chain: {why}",
            channel=channel_id,
            why=off,
        ),
    }


def preference_kind(channel_type: str) -> str | None:
    """The kind of switch a channel type's messages to a person answer to, if any."""
    descriptor = registered_type(channel_type)
    return descriptor.preference_kind if descriptor is not None else None


@dataclass(frozen=True)
class Personal:
    """The addressed people's switches and quiet hours, and the project's defaults.

    ``own`` and ``defaults`` are keyed by (type key, channel kind); a switch that is set
    nowhere is on (every notification is on until someone turns it off, seed 003).
    """

    defaults: dict[tuple[str, str], bool] = field(default_factory=dict)
    own: dict[int, dict[tuple[str, str], bool]] = field(default_factory=dict)
    quiet: dict[int, QuietWindow] = field(default_factory=dict)

    def verdict(
        self,
        *,
        user_id: int,
        name: str,
        channel_type: str,
        type_key: str,
        mandatory: bool,
        severity: str,
        now: datetime,
    ) -> Verdict:
        """Whether a delivery of ``type_key`` to this person over ``channel_type`` goes
        now, waits out their quiet hours (types whose messages do, unless CRITICAL), or is
        not sent because they (or the project's default) switched its kind off."""
        descriptor = registered_type(channel_type)
        if descriptor is None or descriptor.preference_kind is None:
            return GOES
        kind = descriptor.preference_kind
        off = self.switched_off(
            user_id=user_id, name=name, type_key=type_key, kind=kind, mandatory=mandatory
        )
        if off is not None:
            return Verdict(off=off)
        if not descriptor.waits_out_quiet_hours:
            return GOES
        until = self.held_until(user_id=user_id, severity=severity, now=now)
        return Verdict(until=until) if until is not None else GOES

    def switched_off(
        self, *, user_id: int, name: str, type_key: str, kind: str, mandatory: bool
    ) -> str | None:
        """Why a delivery of ``type_key`` to this person over ``kind`` is not sent (the
        reason stored with the SUPPRESSED delivery), or ``None`` when it goes."""
        if mandatory:
            return None
        key = (type_key, kind)
        own = self.own.get(user_id, {}).get(key)
        if own is not None:
            if own:
                return None
            return Sentence(
                "{person} switched off {kind} notifications of the type {key!r}",
                person=name,
                kind=kind,
                key=type_key,
            )
        if self.defaults.get(key, True):
            return None
        return Sentence(
            "{kind} notifications of the type {key!r} are off by this project's default, "
            "and {person} has not switched them on",
            kind=kind,
            key=type_key,
            person=name,
        )

    def held_until(self, *, user_id: int, severity: str, now: datetime) -> datetime | None:
        """When a delivery to this person may go if ``now`` is in their quiet hours, or
        ``None`` when it goes now (no quiet hours, or a CRITICAL event, which always
        goes at once)."""
        window = self.quiet.get(user_id)
        if window is None or severity == CRITICAL:
            return None
        return window.until(now)
