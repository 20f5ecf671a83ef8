"""The signal seam: in-process signals, and LISTEN/NOTIFY between connections on a real
PostgreSQL (including a listener whose backend the server terminates)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from nabat.signals import LocalSignals, PostgresSignals, SocketSignals, signals_for
from nabat.signals.base import MAX_PAYLOAD_BYTES
from nabat.signals.postgres import APPLICATION_NAME, asyncpg_dsn
from tests.support.postgres import PostgresServer, free_port

# Generous: a signal takes milliseconds; the deadline only bounds a failing test.
DEADLINE = 10.0

_databases = itertools.count()

Heard = asyncio.Queue[str | None]


def recorder() -> tuple[Heard, Callable[[str | None], None]]:
    """A queue and a listener that puts every payload it hears into it."""
    queue: Heard = asyncio.Queue()
    return queue, queue.put_nowait


async def next_heard(queue: Heard) -> str | None:
    """The next payload heard, within the deadline."""
    return await asyncio.wait_for(queue.get(), DEADLINE)


async def heard_until(queue: Heard, wanted: str | None) -> list[str | None]:
    """Everything heard up to and including ``wanted``."""
    seen: list[str | None] = []
    while not seen or seen[-1] != wanted:
        seen.append(await next_heard(queue))
    return seen


@pytest.fixture
async def dsn(postgres: PostgresServer) -> str:
    """An asyncpg DSN of a fresh database (NOTIFY reaches one database's sessions only)."""
    name = f"signals{next(_databases)}"
    admin = await asyncpg.connect(asyncpg_dsn(postgres.url("postgres")))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return asyncpg_dsn(postgres.url(name))


@pytest.fixture
async def pair(dsn: str) -> AsyncIterator[tuple[PostgresSignals, PostgresSignals]]:
    """Two processes' worth of signals on one database (two connections)."""
    first = PostgresSignals(dsn, first_retry=0.05)
    second = PostgresSignals(dsn, first_retry=0.05)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def terminate_listeners(dsn: str) -> int:
    """Have the server end every signal connection to the database; how many it ended."""
    admin = await asyncpg.connect(dsn)
    try:
        ended: int = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1 AND datname = current_database()",
            APPLICATION_NAME,
        )
    finally:
        await admin.close()
    return ended


async def test_local_signals_reach_each_listener_of_the_topic_in_order() -> None:
    signals = LocalSignals()
    heard: list[str] = []
    signals.subscribe("deliveries", lambda payload: heard.append(f"a:{payload}"))
    signals.subscribe("deliveries", lambda payload: heard.append(f"b:{payload}"))
    signals.subscribe("events", lambda payload: heard.append(f"other:{payload}"))
    signals.publish("deliveries", "42")
    assert heard == ["a:42", "b:42"]


async def test_a_closed_subscription_hears_nothing_more() -> None:
    signals = LocalSignals()
    heard: list[str | None] = []
    subscription = signals.subscribe("inbox:7", heard.append)
    signals.publish("inbox:7", "1")
    subscription.close()
    subscription.close()
    signals.publish("inbox:7", "2")
    assert heard == ["1"]


async def test_a_failing_listener_does_not_keep_the_others_from_hearing() -> None:
    signals = LocalSignals()
    heard: list[str | None] = []

    def broken(_payload: str | None) -> None:
        raise RuntimeError("listener bug")

    signals.subscribe("deliveries", broken)
    signals.subscribe("deliveries", heard.append)
    signals.publish("deliveries")
    assert heard == [""]


@pytest.mark.parametrize(
    ("topic", "payload"),
    [("", ""), ("t" * 64, ""), ("deliveries", "x" * (MAX_PAYLOAD_BYTES + 1))],
)
def test_a_topic_or_payload_postgresql_would_refuse_is_refused_everywhere(
    topic: str, payload: str
) -> None:
    with pytest.raises(ValueError, match="signal"):
        LocalSignals().publish(topic, payload)


def test_the_database_url_chooses_the_implementation() -> None:
    assert isinstance(signals_for("sqlite+aiosqlite:///var/nabat.db"), SocketSignals)
    assert type(signals_for("sqlite+aiosqlite:///:memory:")) is LocalSignals
    chosen = signals_for("postgresql+asyncpg://nabat:pw@db:5432/nabat")
    assert isinstance(chosen, PostgresSignals)
    assert asyncpg_dsn("postgresql+asyncpg://nabat:pw@db:5432/nabat") == (
        "postgresql://nabat:pw@db:5432/nabat"
    )


async def test_a_signal_published_on_one_connection_is_heard_on_another(
    pair: tuple[PostgresSignals, PostgresSignals],
) -> None:
    first, second = pair
    theirs, listener = recorder()
    second.subscribe("deliveries", listener)
    ours, own_listener = recorder()
    first.subscribe("deliveries", own_listener)
    await first.start()
    await second.start()
    # Each connection tells its listeners to look once it listens.
    assert await next_heard(theirs) is None
    assert await next_heard(ours) is None

    first.publish("deliveries", "17")

    assert await next_heard(theirs) == "17"
    # Heard once here (when published), not again when PostgreSQL echoes it back.
    assert await next_heard(ours) == "17"
    second.publish("deliveries", "18")
    assert await next_heard(ours) == "18"
    assert ours.empty()


async def test_a_topic_subscribed_after_start_is_heard_once_listening_returns(
    pair: tuple[PostgresSignals, PostgresSignals],
) -> None:
    first, second = pair
    await first.start()
    await second.start()
    heard, listener = recorder()
    second.subscribe("inbox:3", listener)
    await second.listening()
    first.publish("inbox:3", "evt_1")
    assert await next_heard(heard) == "evt_1"


async def test_many_signals_in_a_burst_all_arrive(
    pair: tuple[PostgresSignals, PostgresSignals],
) -> None:
    first, second = pair
    heard, listener = recorder()
    second.subscribe("inbox:9", listener)
    await first.start()
    await second.start()
    assert await next_heard(heard) is None
    for number in range(500):
        first.publish("inbox:9", str(number))
    assert await heard_until(heard, "499") == [str(n) for n in range(500)]


async def test_after_the_server_ends_the_listener_it_reconnects_and_says_signals_were_missed(
    dsn: str,
) -> None:
    signals = PostgresSignals(dsn, first_retry=0.05)
    heard, listener = recorder()
    signals.subscribe("events", listener)
    other = await asyncpg.connect(dsn)
    try:
        await signals.start()
        assert await next_heard(heard) is None

        assert await terminate_listeners(dsn) == 1

        # Told once it listens again: whatever came meanwhile is lost to NOTIFY.
        assert await next_heard(heard) is None
        await other.execute("SELECT pg_notify('events', 'again')")
        assert await next_heard(heard) == "again"
    finally:
        await other.close()
        await signals.close()


async def test_a_signal_published_as_the_connection_drops_is_sent_after_the_reconnect(
    dsn: str,
) -> None:
    signals = PostgresSignals(dsn, first_retry=0.05)
    other = await asyncpg.connect(dsn)
    heard: Heard = asyncio.Queue()
    await other.add_listener("events", lambda *notice: heard.put_nowait(notice[3]))
    try:
        await signals.start()
        assert await terminate_listeners(dsn) == 1
        # The publisher may not know yet that its connection is gone: the signal waits.
        signals.publish("events", "after")
        assert await next_heard(heard) == "after"
    finally:
        await other.close()
        await signals.close()


async def test_without_a_server_start_returns_and_close_stops_retrying() -> None:
    signals = PostgresSignals(
        f"postgresql://postgres@127.0.0.1:{free_port()}/none", first_retry=0.05
    )
    heard: list[str | None] = []
    signals.subscribe("deliveries", heard.append)
    await signals.start()
    signals.publish("deliveries", "1")
    await signals.listening()
    await signals.close()
    # This process's listeners hear it at once; other processes poll meanwhile.
    assert heard == ["1"]


class HeldConnection:
    """Enough of an asyncpg connection to watch what is sent; each NOTIFY round trip
    waits until the test lets it finish."""

    def __init__(self) -> None:
        self.sent: list[list[str]] = []
        self.release = asyncio.Event()
        self.sending = asyncio.Event()

    async def add_listener(self, _channel: str, _callback: object) -> None:
        return None

    def add_termination_listener(self, _callback: object) -> None:
        return None

    def get_server_pid(self) -> int:
        return 1

    def is_closed(self) -> bool:
        return False

    async def close(self) -> None:
        return None

    async def execute(self, _query: str, _topics: list[str], payloads: list[str]) -> str:
        self.sending.set()
        await self.release.wait()
        self.release.clear()
        self.sent.append(payloads)
        return "SELECT 1"


async def test_a_signal_published_again_while_it_is_being_sent_is_sent_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection = HeldConnection()

    async def connect(*_args: object, **_options: object) -> HeldConnection:
        return connection

    monkeypatch.setattr(asyncpg, "connect", connect)
    signals = PostgresSignals("postgresql://unused/db")
    await signals.start()
    signals.publish("deliveries", "")
    await asyncio.wait_for(connection.sending.wait(), DEADLINE)
    connection.sending.clear()
    # A later commit's wake-up, while the first is on its way: a listener woken by the
    # first might look before this commit, so this one must go out too.
    signals.publish("deliveries", "")
    connection.release.set()
    await asyncio.wait_for(connection.sending.wait(), DEADLINE)
    connection.release.set()
    await signals.close()
    assert connection.sent == [[""], [""]]
