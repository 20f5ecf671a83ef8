"""Which channels an event goes to: forced channels, matching rules, or the default."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from nabat.routing.matchers import Matcher, all_hold
from nabat.routing.rules import CompiledRule


@dataclass(frozen=True)
class ChannelRef:
    """A channel as routing needs it."""

    id: int
    name: str
    type: str
    enabled: bool
    is_default: bool


@dataclass(frozen=True)
class Route:
    """Deliver over ``channel`` to ``recipients`` (empty: the channel's own destination)."""

    channel: ChannelRef
    recipients: tuple[str, ...]
    template_id: int | None = None
    rule: CompiledRule | None = None
    # A fallback chain's next channels, tried in order when this one cannot deliver.
    fallback: tuple[ChannelRef, ...] = ()


def _note(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}


def routes_for(
    *,
    type_key: str,
    severity: str,
    values: Mapping[str, str | None],
    rules: Sequence[CompiledRule],
    channels: Mapping[int, ChannelRef],
    forced: Sequence[ChannelRef] | None,
    recipients: tuple[str, ...] | None,
) -> tuple[list[Route], list[dict[str, Any]]]:
    """The routes of one event, and notes on what could not be routed.

    ``forced`` channels (the event named them) skip the rules. Otherwise every matching
    rule contributes its actions until one that does not ``continue``; with no match the
    project's default channel is used. ``recipients`` given with the event replace the
    actions' own.
    """
    notes: list[dict[str, Any]] = []
    if forced is not None:
        routes = []
        for channel in forced:
            if channel.enabled:
                routes.append(Route(channel, recipients or ()))
            else:
                notes.append(
                    _note(
                        "CHANNEL_DISABLED",
                        f"channel {channel.id} ({channel.name}) is disabled",
                        channelId=channel.id,
                    )
                )
        return routes, notes
    routes = []
    matched = False
    for rule in rules:
        if not rule.matches(type_key, severity, values):
            continue
        matched = True
        for action in rule.actions:
            chain: list[ChannelRef] = []
            for channel_id in (action.channel_id, *action.fallback):
                target = channels.get(channel_id)
                if target is None:
                    notes.append(
                        _note(
                            "CHANNEL_NOT_FOUND",
                            f"rule {rule.id} ({rule.name}) names channel {channel_id}, "
                            "which no longer exists; fix the rule",
                            ruleId=rule.id,
                            channelId=channel_id,
                        )
                    )
                elif not target.enabled:
                    notes.append(
                        _note(
                            "CHANNEL_DISABLED",
                            f"rule {rule.id} ({rule.name}) sends to channel {target.id} "
                            f"({target.name}), which is disabled"
                            + (
                                "; the next channel of its chain is used" if action.fallback else ""
                            ),
                            ruleId=rule.id,
                            channelId=target.id,
                        )
                    )
                else:
                    chain.append(target)
            if chain:
                routes.append(
                    Route(
                        chain[0],
                        recipients or action.recipients,
                        action.template_id,
                        rule,
                        tuple(chain[1:]),
                    )
                )
        if not rule.continue_matching:
            break
    if matched:
        return routes, notes
    default = next((c for c in channels.values() if c.is_default), None)
    if default is None:
        notes.append(
            _note(
                "NO_ROUTE",
                "no rule matched and the project has no default channel; add a rule or "
                "set a default channel",
            )
        )
    elif not default.enabled:
        notes.append(
            _note(
                "NO_ROUTE",
                f"no rule matched and the default channel {default.id} ({default.name}) "
                "is disabled",
                channelId=default.id,
            )
        )
    else:
        routes.append(Route(default, recipients or ()))
    return routes, notes


def group_key(rule: CompiledRule, values: Mapping[str, str | None]) -> str:
    """The throttle group of an event under ``rule``: a digest of its groupBy values."""
    assert rule.throttle is not None
    parts = [str(rule.id)] + [f"{name}={values.get(name) or ''}" for name in rule.throttle.group_by]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


class SilenceLike(Protocol):
    """An active silence (``nabat.services.silences.ActiveSilence``)."""

    @property
    def id(self) -> int:
        """The silence's id."""

    @property
    def matchers(self) -> tuple[Matcher, ...]:
        """All must hold for a delivery to be silenced."""


SilenceT = TypeVar("SilenceT", bound=SilenceLike)


def silenced_by(silences: Sequence[SilenceT], values: Mapping[str, str | None]) -> SilenceT | None:
    """The first active silence whose matchers all hold, if any."""
    for silence in silences:
        if all_hold(list(silence.matchers), values):
            return silence
    return None
