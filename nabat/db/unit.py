"""Work that must wait until the caller's unit of work is committed.

Services take a session and never commit; the route or loop that opened the session does.
Some changes must be followed by something outside the database — chiefly dropping a
per-process cache entry so that the next event sees the change. Doing that inside the
service would be too early: the caller may still roll back, and a reader could reload
the old rows into the cache before the commit lands. :func:`after_commit` defers it to
the moment the session's outermost transaction has committed.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

_CALLBACKS = "nabat.after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's current transaction has committed.

    Guarantees: the callback runs at most once, after the outermost transaction's commit
    succeeded (a savepoint's release does not count), in the order registered; it is
    dropped without running when that transaction ends any other way (rollback, close).
    Work rolled back to a savepoint keeps its callbacks: they run at the outer commit,
    which is harmless for what they are used for (forgetting a cache entry early only
    costs a reload). A callback that raises does so from ``commit()``, after the data is
    stored.
    """
    sync = session.sync_session
    if not event.contains(sync, "after_commit", _run):
        event.listen(sync, "after_commit", _run)
        event.listen(sync, "after_transaction_end", _drop)
    sync.info.setdefault(_CALLBACKS, []).append(callback)


def _run(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released; the outer transaction may still roll back
    callbacks: list[Callable[[], None]] = session.info.pop(_CALLBACKS, [])
    for callback in callbacks:
        callback()


def _drop(session: Session, transaction: SessionTransaction) -> None:
    # After a commit ``_run`` has already taken the callbacks; anything left belongs to a
    # transaction that ended without committing.
    if transaction.parent is None:
        session.info.pop(_CALLBACKS, None)
