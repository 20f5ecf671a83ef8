"""ORM tables, one aggregate per module. Importing this package registers them all."""

from nabat.models.account import ApiKey, Membership, Project, Role, User
from nabat.models.channel import Channel
from nabat.models.contact import ContactKind, ContactPoint
from nabat.models.delivery import (
    ChannelHealth,
    Delivery,
    DeliveryAttempt,
    DeliveryKind,
    DeliveryStatus,
)
from nabat.models.event import Event, EventKey
from nabat.models.inbox import InboxChange, InboxItem
from nabat.models.integration import IntegrationSettings
from nabat.models.invitation import Invitation, InvitationStatus
from nabat.models.liveness import WorkerBeat
from nabat.models.preferences import PreferenceDefault, QuietHours, UserPreference
from nabat.models.routing import NotificationTypeRow, Rule, Silence, ThrottleMark
from nabat.models.schedule import ScheduledJob
from nabat.models.template import ProjectSettings, Template

__all__ = [
    "ApiKey",
    "Channel",
    "ChannelHealth",
    "ContactKind",
    "ContactPoint",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryKind",
    "DeliveryStatus",
    "Event",
    "EventKey",
    "InboxChange",
    "InboxItem",
    "IntegrationSettings",
    "Invitation",
    "InvitationStatus",
    "Membership",
    "NotificationTypeRow",
    "PreferenceDefault",
    "Project",
    "ProjectSettings",
    "QuietHours",
    "Role",
    "Rule",
    "ScheduledJob",
    "Silence",
    "Template",
    "ThrottleMark",
    "User",
    "UserPreference",
    "WorkerBeat",
]
