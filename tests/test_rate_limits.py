"""Token buckets per destination, and the worker keeping to them."""

from __future__ import annotations

from datetime import UTC, datetime

from nabat.channels.base import ChannelConfig
from nabat.channels.descriptor import Buckets
from nabat.channels.registry import channel_type
from nabat.channels.slack import SlackConfig
from nabat.channels.telegram import TelegramConfig
from nabat.clock import FrozenClock
from nabat.delivery.ratelimit import Rate, RateLimits

TOKEN = "123456789:AAH-test-token-0123456789abcdefXYZ"


def limits_for(config: ChannelConfig, recipient: str | None) -> Buckets:
    """The buckets the type's descriptor gives a message."""
    kind = channel_type(config.type_name)
    assert kind is not None
    return kind.limits(config, recipient)


def test_a_bucket_allows_its_burst_then_one_per_interval() -> None:
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    limits = RateLimits(clock)
    rate = [("chat", Rate(per_second=1.0, burst=3.0))]
    assert [limits.reserve(rate) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limits.reserve(rate)
    assert 0.99 <= wait <= 1.0
    clock.advance(0.5)
    assert 0.49 <= limits.reserve(rate) <= 0.5
    clock.advance(0.5)
    assert limits.reserve(rate) == 0.0


def test_ten_messages_to_one_chat_in_a_second_get_at_most_its_rate() -> None:
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    limits = RateLimits(clock)
    config = TelegramConfig.model_validate({"botToken": TOKEN, "chatId": "12345"})
    sent = 0
    for _ in range(10):
        if limits.reserve(limits_for(config, None)) == 0.0:
            sent += 1
        clock.advance(0.1)
    # A burst of 3, then about one a second.
    assert sent == 3


def test_a_group_gets_at_most_twenty_a_minute_while_other_chats_proceed() -> None:
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    limits = RateLimits(clock)
    group = TelegramConfig.model_validate({"botToken": TOKEN, "chatId": "-100555"})
    other = TelegramConfig.model_validate({"botToken": TOKEN, "chatId": "777"})
    sent_to_group = 0
    for _ in range(600):  # one attempt every 100 ms for a minute
        if limits.reserve(limits_for(group, None)) == 0.0:
            sent_to_group += 1
        clock.advance(0.1)
    assert 15 <= sent_to_group <= 20
    assert limits.reserve(limits_for(other, None)) == 0.0


def test_a_throttle_pause_holds_the_destination_only() -> None:
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    limits = RateLimits(clock)
    hook_a = SlackConfig.model_validate({"webhookUrl": "https://hooks.slack.com/services/A"})
    hook_b = SlackConfig.model_validate({"webhookUrl": "https://hooks.slack.com/services/B"})
    a = limits_for(hook_a, None)
    limits.pause(a[0][0], 30)
    assert limits.reserve(a) >= 29.9
    assert limits.reserve(limits_for(hook_b, None)) == 0.0
    clock.advance(30.1)
    assert limits.reserve(a) == 0.0


def test_bucket_keys_never_hold_the_secret() -> None:
    config = TelegramConfig.model_validate({"botToken": TOKEN, "chatId": "1"})
    slack = SlackConfig.model_validate(
        {"webhookUrl": "https://hooks.slack.com/services/T/B/sekrit"}
    )
    keys = [key for key, _ in limits_for(config, None) + limits_for(slack, None)]
    assert all(TOKEN not in key and "sekrit" not in key for key in keys)
