"""ORM tables, one aggregate per module. Importing this package registers them all."""

from nabat.models.account import ApiKey, Membership, Project, Role, User
from nabat.models.channel import Channel
from nabat.models.delivery import (
    ChannelHealth,
    Delivery,
    DeliveryAttempt,
    DeliveryKind,
    DeliveryStatus,
)

__all__ = [
    "ApiKey",
    "Channel",
    "ChannelHealth",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryKind",
    "DeliveryStatus",
    "Membership",
    "Project",
    "Role",
    "User",
]
