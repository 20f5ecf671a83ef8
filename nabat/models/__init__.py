"""ORM tables, one aggregate per module. Importing this package registers them all."""

from nabat.models.account import ApiKey, Membership, Project, Role, User
from nabat.models.channel import Channel

__all__ = ["ApiKey", "Channel", "Membership", "Project", "Role", "User"]
