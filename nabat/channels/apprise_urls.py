"""Apprise URLs: read by apprise itself, their secrets named, apprise's logs kept clean.

An Apprise URL is a credential from end to end: a token may sit in the host, the path or
the query, depending on the service (``tgram://<bot token>/<chat>``). Nothing of one is
ever shown: errors name the URL by its place in the list and the service it is for.

Apprise (and urllib3 under it) log URLs and request paths. While Nabat parses or notifies
a URL, every log record made in that context is scrubbed of the URL's pieces as it is
created, whichever logger makes it, so neither Nabat's log nor apprise's own captured
result logs hold them.

``apprise`` is imported where it is first used: importing it takes a quarter of a second,
which every Nabat process would otherwise pay at start, APPRISE channels or not.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import unquote

from nabat.channels.redact import redact
from nabat.sentences import Sentence

SERVICES_PAGE = "https://appriseit.com/services/"
"""Where Apprise lists its services and their URL forms."""

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{0,31}$")
# What separates the pieces of a URL that may each be a credential on their own.
_SEPARATORS = re.compile(r"[/?#&=@:,;+\s]+")

_SCRUBBING: ContextVar[tuple[str, ...]] = ContextVar("nabat_apprise_scrubbing", default=())
_INSTALL = threading.Lock()
_installed = False
_LOAD = threading.Lock()
_plugins_loaded = False


class UnusableUrl(ValueError):
    """Apprise cannot use a URL; ``reason`` says why without showing any of it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def url_secrets(url: str, *, keep: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Every piece of ``url`` that may be a credential, as written and decoded: the URL,
    what follows its scheme, and each piece between separators. ``keep`` names pieces
    known not to be secret (the host a service connects to), so reasons can name them."""
    rest = url.partition("://")[2] or url
    pieces = [url, unquote(url), rest, unquote(rest)]
    for text in (rest, unquote(rest)):
        pieces.extend(_SEPARATORS.split(text))
    kept = set(keep)
    return tuple(piece for piece in dict.fromkeys(pieces) if piece and piece not in kept)


def _install_scrubber() -> None:
    """Wrap the log record factory once, so records made while :func:`scrubbed_logs` is
    active have the secrets taken out of their message and traceback."""
    global _installed
    with _INSTALL:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            secrets = _SCRUBBING.get()
            if secrets:
                _scrub(record, secrets)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


def _scrub(record: logging.LogRecord, secrets: tuple[str, ...]) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        message = str(record.msg)
    record.msg = redact(message, *secrets)
    record.args = None
    if record.exc_info:
        # Handlers use exc_text when it is set, so they print this scrubbed copy.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info), *secrets)


@contextmanager
def scrubbed_logs(secrets: tuple[str, ...]) -> Iterator[None]:
    """Within the block (in this thread or task), log records never hold ``secrets``."""
    _install_scrubber()
    token = _SCRUBBING.set(_SCRUBBING.get() + secrets)
    try:
        yield
    finally:
        _SCRUBBING.reset(token)


def new_asset() -> Any:
    """The apprise settings Nabat uses: one service at a time in the calling thread (no
    apprise deadline, whose abandoned threads would outlive the attempt), no disk, no
    redirects (a redirect to an internal address would bypass the SSRF check), secrets
    masked in apprise's own log lines."""
    import apprise

    return apprise.AppriseAsset(
        async_mode=False,
        service_timeout=0,
        storage_mode="memory",
        http_redirects=False,
        secure_logging=True,
    )


def _services() -> Any:
    """apprise's registry of services, its plugins loaded (once per process)."""
    global _plugins_loaded
    import apprise

    services = apprise.NotificationManager()  # type: ignore[no-untyped-call]
    with _LOAD:
        if not _plugins_loaded:
            with warnings.catch_warnings():
                # apprise's e-mail plugin imports imghdr (deprecated since Python 3.11) as
                # the plugins load; that warning is apprise's to act on, not our operators'.
                warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
                services.load_modules()  # type: ignore[no-untyped-call]
            _plugins_loaded = True
    return services


def load(url: str) -> Any:
    """The apprise service object for ``url``; raises :class:`UnusableUrl` when apprise
    cannot parse it or has no usable service for it. Makes no connection."""
    import apprise

    scheme, separator, _ = url.partition("://")
    if not separator or not _SCHEME.match(scheme):
        raise UnusableUrl(
            Sentence("is not an Apprise URL (service://…); see {page}", page=SERVICES_PAGE)
        )
    scheme = scheme.lower()
    services = _services()
    if scheme not in services:
        raise UnusableUrl(
            Sentence(
                "names no service Apprise knows ({scheme}://); see {page}",
                scheme=scheme,
                page=SERVICES_PAGE,
            )
        )
    service = services[scheme]
    name = str(service.service_name)
    if not service.enabled:
        raise UnusableUrl(
            Sentence(
                "is for Apprise's {name} service, which cannot run on this server (it needs "
                "software or a desktop this server does not have)",
                name=name,
            )
        )
    with scrubbed_logs(url_secrets(url)):
        plugin = apprise.Apprise.instantiate(url, asset=new_asset(), suppress_exceptions=True)
    if plugin is None:
        raise UnusableUrl(
            Sentence(
                "is not a URL Apprise's {name} service can use; check it against {page}",
                name=name,
                page=service.setup_url or SERVICES_PAGE,
            )
        )
    return plugin


def destinations(plugin: Any) -> list[tuple[str, int | None]]:
    """The (host, port) pairs a service connects to that the URL chose: its host when the
    service's URL forms have one (``json://host``, ``ntfy://host``, ``mailto://…`` and its
    SMTP server). Services with a fixed vendor endpoint (Telegram, Discord…) have none:
    what looks like a host in their URLs is a token."""
    found: list[tuple[str, int | None]] = []
    port = plugin.port if isinstance(plugin.port, int) else None
    templates = getattr(plugin, "templates", ())
    host = plugin.host
    if isinstance(host, str) and host and any("{host}" in form for form in templates):
        found.append((host.strip("[]"), port))
    smtp = getattr(plugin, "smtp_host", None)
    if isinstance(smtp, str) and smtp and (smtp, port) not in found:
        found.append((smtp.strip("[]"), port))
    return found


SOCKET_GRACE_S = 2.0
"""How much longer than the attempt's timeout apprise's sockets wait: the attempt's own
timeout decides (one verdict, "timeout"), the sockets only free the thread soon after."""


def prepared(plugin: Any, timeout_s: float) -> Any:
    """``plugin`` made to try once, follow no redirect, and give up connecting or reading
    shortly after ``timeout_s``, whatever its URL asked for."""
    plugin.retry = 0
    plugin.redirects = False
    plugin.socket_connect_timeout = timeout_s + SOCKET_GRACE_S
    plugin.socket_read_timeout = timeout_s + SOCKET_GRACE_S
    return plugin
