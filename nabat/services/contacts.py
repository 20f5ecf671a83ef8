"""Where users are reached: their contact points, and finding project members by reference."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from nabat.clock import Clock
from nabat.db.ids import as_id
from nabat.errors import Conflict, ErrorCode, NotFound, ValidationFailed
from nabat.models.account import Membership, User
from nabat.models.contact import ContactKind, ContactPoint
from nabat.sentences import Sentence

EMAIL_MAX = 320
LABEL_MAX = 100
# After spaces, dashes and parentheses are dropped: "+", a country code that never starts
# with 0, then the rest; E.164 allows at most 15 digits, and no real number has fewer than 8.
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_PHONE_SEPARATORS = re.compile(r"[\s\-()]")
# Telegram ids fit in 52 bits (16 digits); groups are negative, supergroups start -100.
_CHAT_ID = re.compile(r"^-?[1-9]\d{0,15}$")
# Public usernames: 5-32 characters, letters, digits and underscores, starting with a letter.
_CHAT_USERNAME = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{4,31}$")
_KINDS = ", ".join(kind.value for kind in ContactKind)


@dataclass(frozen=True)
class Person:
    """A project member as ingest sees them: who they are and every address they gave.

    ``contacts`` maps a kind ("EMAIL", "TELEGRAM", "PHONE") to its values in the order
    they were added; the account's own e-mail address is always the first EMAIL.
    """

    id: int
    username: str
    email: str
    display_name: str | None
    contacts: dict[str, tuple[str, ...]]


def normalise_email(value: str) -> str:
    """``value`` as a plain e-mail address, lowercased.

    Raises :class:`ValueError` with a sentence saying what is wrong. Addresses are
    lowercased like account e-mails are, so one address is never stored twice.
    """
    candidate = value.strip()
    if len(candidate) > EMAIL_MAX:
        raise ValueError(
            Sentence("an e-mail address has at most {most} characters", most=EMAIL_MAX)
        )
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(
            Sentence(
                "{value!r} is not an e-mail address like name@example.com: {reason}",
                value=candidate,
                reason=str(exc),
            )
        ) from None
    return checked.normalized.lower()


def normalise_phone(value: str) -> str:
    """``value`` in E.164 form (``+79255070602``); spaces, dashes and parentheses go.

    Raises :class:`ValueError` saying the expected form for anything else.
    """
    digits = _PHONE_SEPARATORS.sub("", value)
    if not _E164.match(digits):
        raise ValueError(
            Sentence(
                "{value!r} is not a phone number in international E.164 form: write + and the "
                "country code, then the number, 8-15 digits in all (e.g. +7 925 507-06-02)",
                value=value.strip(),
            )
        )
    return digits


def normalise_telegram(value: str) -> str:
    """``value`` as a Telegram chat id (``-1001234567890``) or ``@channelusername``.

    Raises :class:`ValueError` saying what is expected otherwise.
    """
    chat = value.strip()
    if not (_CHAT_ID.match(chat) or _CHAT_USERNAME.match(chat)):
        raise ValueError(
            Sentence(
                "{value!r} is not a Telegram chat: give the numeric chat id (e.g. 123456789, or "
                "-1001234567890 for a group) or a public @channelusername (5-32 letters, "
                "digits and underscores)",
                value=chat,
            )
        )
    return chat


def normalise_contact(kind: str, value: str) -> tuple[ContactKind, str]:
    """Check a contact point's kind and value; return them as stored.

    Raises :class:`ValidationFailed` naming ``kind`` or ``value`` and what to write.
    """
    try:
        checked_kind = ContactKind(kind.strip().upper())
    except ValueError:
        raise _invalid(
            "kind",
            Sentence(
                "{kind!r} is not a kind of contact point; use one of {kinds}",
                kind=kind,
                kinds=_KINDS,
            ),
        ) from None
    normalise = {
        ContactKind.EMAIL: normalise_email,
        ContactKind.PHONE: normalise_phone,
        ContactKind.TELEGRAM: normalise_telegram,
    }[checked_kind]
    try:
        return checked_kind, normalise(value)
    except ValueError as exc:
        raise _invalid("value", exc.args[0]) from None


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        Sentence("{field}: {message}", field=field, message=message),
        details=[{"field": field, "message": message, "type": "value_error"}],
    )


def _label(label: str | None) -> str | None:
    if label is None or not label.strip():
        return None
    label = label.strip()
    if len(label) > LABEL_MAX:
        raise _invalid("label", Sentence("must be at most {most} characters", most=LABEL_MAX))
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in label):
        raise _invalid("label", "must be one line of text without control characters")
    return label


async def list_contacts(session: AsyncSession, user_id: int) -> list[ContactPoint]:
    """The user's contact points, oldest first."""
    rows = await session.scalars(
        select(ContactPoint).where(ContactPoint.user_id == user_id).order_by(ContactPoint.id)
    )
    return list(rows)


async def add_contact(
    session: AsyncSession,
    clock: Clock,
    user: User,
    *,
    kind: str,
    value: str,
    label: str | None = None,
) -> ContactPoint:
    """Add a contact point to ``user``; the caller commits.

    Raises :class:`ValidationFailed` for a bad kind, value or label and :class:`Conflict`
    when the user already has this address (the account e-mail counts).
    """
    checked_kind, checked_value = normalise_contact(kind, value)
    checked_label = _label(label)
    if checked_kind is ContactKind.EMAIL and checked_value == user.email.lower():
        raise Conflict(
            Sentence("{value} is already this account's e-mail address", value=checked_value)
        )
    taken = await session.scalar(
        select(ContactPoint.id).where(
            ContactPoint.user_id == user.id,
            ContactPoint.kind == checked_kind.value,
            ContactPoint.value == checked_value,
        )
    )
    if taken is not None:
        raise _duplicate(checked_kind, checked_value, taken)
    point = ContactPoint(
        user_id=user.id,
        kind=checked_kind.value,
        value=checked_value,
        label=checked_label,
        created_at=clock.now(),
    )
    session.add(point)
    try:
        # Flushed here, not at the caller's commit: the id is answered, and a racing
        # duplicate is refused while this use-case can still answer with a Conflict.
        await session.flush()
    except IntegrityError as exc:
        # Two requests adding the same address at once: the unique constraint decides.
        await session.rollback()
        raise Conflict(
            Sentence(
                "{kind} contact point {value} was just added by another request; list the "
                "contact points to see it",
                kind=checked_kind.value,
                value=checked_value,
            )
        ) from exc
    return point


def _duplicate(kind: ContactKind, value: str, existing_id: int) -> Conflict:
    return Conflict(
        Sentence(
            "this user already has the {kind} contact point {value} (id {id})",
            kind=kind.value,
            value=value,
            id=existing_id,
        )
    )


async def remove_contact(session: AsyncSession, user_id: int, contact_id: int) -> None:
    """Delete one of the user's contact points; the caller commits.

    Another user's contact point is reported missing, exactly like one that does not exist.
    """
    point = await session.get(ContactPoint, contact_id) if as_id(contact_id) else None
    if point is None or point.user_id != user_id:
        raise NotFound(
            Sentence(
                "contact point {id} not found for this user; list the user's contact points "
                "to see their ids",
                id=contact_id,
            )
        )
    await session.delete(point)


async def contacts_owner(session: AsyncSession, caller: User, user_id: int) -> User:
    """The user ``user_id`` if ``caller`` may read and change their contact points.

    A user's contact points are theirs, not a project's: only the user and instance
    administrators reach them. Raises :class:`NotFound` (``USER_NOT_FOUND``) for anyone
    else, the same answer for a member of the caller's project, a user elsewhere and no
    user at all; routing reads members' addresses itself (:func:`find_people`).
    """
    user = None
    if as_id(user_id) and (caller.is_superuser or caller.id == user_id):
        user = await session.get(User, user_id)
    if user is None:
        raise NotFound(
            Sentence(
                "user {id} not found; your own contact points are at "
                "/api/v1/users/me/contact-points",
                id=user_id,
            ),
            code=ErrorCode.USER_NOT_FOUND,
        )
    return user


async def find_people(
    session: AsyncSession, project_id: int, refs: Collection[str]
) -> dict[str, Person]:
    """Resolve user references to the project's active members, in two queries.

    Each ref is a user id (digits), a username or an e-mail address; names and addresses
    match case-insensitively. A ref of digits is an id first, then a username (as at
    login). Refs that name nobody in the project, or a deactivated account, are absent
    from the result, which is keyed by the refs exactly as given.
    """
    wanted = {ref: ref.strip() for ref in refs if ref.strip()}
    if not wanted:
        return {}
    ids = {user_id for ref in wanted.values() if (user_id := as_id(ref)) is not None}
    names = {ref.lower() for ref in wanted.values()}
    users = list(
        await session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.project_id == project_id,
                User.is_active,
                or_(
                    User.id.in_(ids),
                    func.lower(User.username).in_(names),
                    # Account e-mails are stored lowercased (accounts.create_user).
                    User.email.in_(names),
                ),
            )
        )
    )
    extra = await _contacts_of(session, [user.id for user in users])
    by_id = {user.id: user for user in users}
    by_name = {user.username.lower(): user for user in users}
    by_email = {user.email.lower(): user for user in users}
    found: dict[str, Person] = {}
    for ref, clean in wanted.items():
        key = clean.lower()
        user_id = as_id(clean)
        user = (
            (by_id.get(user_id) if user_id is not None else None)
            or by_name.get(key)
            or by_email.get(key)
        )
        if user is not None:
            found[ref] = _person(user, extra.get(user.id, []))
    return found


async def _contacts_of(
    session: AsyncSession, user_ids: list[int]
) -> dict[int, list[tuple[str, str]]]:
    if not user_ids:
        return {}
    rows = await session.execute(
        select(ContactPoint.user_id, ContactPoint.kind, ContactPoint.value)
        .where(ContactPoint.user_id.in_(user_ids))
        .order_by(ContactPoint.id)
    )
    points: dict[int, list[tuple[str, str]]] = {}
    for user_id, kind, value in rows:
        points.setdefault(user_id, []).append((kind, value))
    return points


def _person(user: User, points: list[tuple[str, str]]) -> Person:
    contacts: dict[str, list[str]] = {ContactKind.EMAIL.value: [user.email]}
    for kind, value in points:
        values = contacts.setdefault(kind, [])
        if value not in values:
            values.append(value)
    return Person(
        id=user.id,
        username=user.username,
        email=user.email,
        display_name=user.display_name or None,
        contacts={kind: tuple(values) for kind, values in contacts.items()},
    )
