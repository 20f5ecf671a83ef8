"""Logging in: the password check, under attempt limits per account and per client.

The account limit counts by the account, whichever of its names was typed (username or
e-mail, in any case); a login that names no account counts by its text, so guessing
names is slowed the same way. Both answer and take the same time either way: the account
is looked up first in every case, and the password is verified even when there is no
account (against a dummy hash), so neither reveals which names exist.
"""

from __future__ import annotations

import math

from sqlalchemy.ext.asyncio import AsyncSession

from nabat.errors import ErrorCode, TooManyRequests, Unauthorized
from nabat.models.account import User
from nabat.security.clients import address_bucket
from nabat.security.passwords import verify_password
from nabat.security.ratelimit import AttemptLimiter
from nabat.sentences import Sentence
from nabat.services.accounts import find_user


def _account_key(user: User | None, login: str) -> str:
    """What the account limit counts by: the user's id, else the login as looked up.

    The two kinds cannot meet: a login typed as ``user:1`` counts as ``login:user:1``.
    """
    if user is not None:
        return f"user:{user.id}"
    return f"login:{login.strip().lower()}"


async def log_in(
    session: AsyncSession,
    *,
    login: str,
    password: str,
    address: str,
    by_account: AttemptLimiter,
    by_address: AttemptLimiter,
) -> User:
    """Return the active user whose username or e-mail is ``login`` and whose password
    is ``password``; ``address`` is the client's (:func:`nabat.security.clients.client_address`).

    Raises :class:`TooManyRequests` (with ``Retry-After``) while the account or the
    address has used up its failed attempts, whatever the password, and
    :class:`Unauthorized` for a wrong login or password, the same for both.
    """
    text = login.strip()
    user = await find_user(session, text, by_id=False) if text else None
    account = _account_key(user, text)
    client = address_bucket(address)
    wait = max(by_account.retry_after(account), by_address.retry_after(client))
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise TooManyRequests(
            Sentence("too many login attempts; try again in {seconds} s", seconds=seconds),
            headers={"Retry-After": str(seconds)},
        )
    # Counted before the password is checked and given back on success: requests racing
    # through a slow check must each see the others, or a burst would all pass the limit.
    stamps = by_account.hit(account), by_address.hit(client)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise Unauthorized("wrong username or password", code=ErrorCode.INVALID_CREDENTIALS)
    by_account.forgive(account, stamps[0])
    by_address.forgive(client, stamps[1])
    return user
