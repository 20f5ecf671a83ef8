"""EWS delivery: one ``CreateItem`` (``SendOnly``) per message, exchangelib on a worker
thread (CONTRACTS.md section 6).

exchangelib is synchronous (requests), so it runs on this sender's own small thread pool,
never on the event loop, and a send gives up waiting after its time budget. The endpoint
is checked against the outbound policy before the thread starts, and every connection the
thread makes is checked again as it is opened (:mod:`nabat.channels.ews_transport`). With
OAuth2 the token comes from :class:`~nabat.channels.ms_oauth.TokenClient` (the same token
endpoint, cache and guard as GRAPH_MAIL) and exchangelib is handed the token alone.

exchangelib's exceptions are named after EWS's response codes (``ErrorServerBusy``,
``ErrorInvalidRecipients``…), so the table below is keyed by those names.

The scheduled check (:meth:`EwsSender.check`) makes one request that sends nothing, on
the same threads and guard: a token just issued and the mailbox opened by impersonation,
or the login's ``ResolveNames`` of the mailbox's address.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage, Receipt
from nabat.channels.email_message import NAME_LIMIT, clean_header_text, message_id, subject_line
from nabat.channels.ews_autodiscover import AutodiscoverUrls, autodiscover_urls, discover
from nabat.channels.ews_mail import EwsLogin, EwsMail, Expired, Guard
from nabat.channels.mail_sender import recipients, sender_address
from nabat.channels.ms_oauth import EWS_SCOPE, AppCredentials, TokenClient, TokenRejected
from nabat.channels.outbound import Outbound
from nabat.channels.redact import scrubbed
from nabat.clock import Clock, SystemClock
from nabat.security.ssrf import BlockedDestination, blocked_cause

if TYPE_CHECKING:
    from nabat.channels.ews import EwsConfig

log = logging.getLogger(__name__)

T = TypeVar("T")

WHAT = "the Exchange server"
THREADS = 8
"""Sends in progress at once per process; more wait for a thread within their budget."""
DISCOVERED_FOR_S = 3600.0
"""How long an endpoint found by Autodiscover is used before it is looked up again."""
ONLINE_HOSTS = ("outlook.office365.com", "outlook.office.com")

_ADMIN = "; ask the Exchange administrator"
_LOGIN = (
    "; check username (DOMAIN\\user, user@domain or the mailbox address), password, and "
    "authType (ntlm or basic, as the server offers)"
)
_APP = (
    "; the app registration needs the Office 365 Exchange Online application permission "
    "full_access_as_app with admin consent"
)
_UNREAD = "Exchange could not read the request; this is a bug in Nabat, please report it"

# Keyed by exchangelib's exception class names, which are EWS's response codes.
# https://learn.microsoft.com/exchange/client-developer/web-service-reference/responsecode
ERRORS: dict[str, tuple[FailureClass, str]] = {
    "ErrorAccessDenied": (
        FailureClass.AUTH,
        "the login may not send from this mailbox; give it Send As or full access on the "
        "mailbox, or log in as the mailbox",
    ),
    "ErrorSendAsDenied": (
        FailureClass.AUTH,
        "the mailbox may not send as the From address; grant it Send As on that address, "
        "or make fromEmail the mailbox's own address",
    ),
    "ErrorImpersonateUserDenied": (
        FailureClass.AUTH,
        "the application may not act for the mailbox (impersonation was refused)" + _APP,
    ),
    "ErrorImpersonationFailed": (
        FailureClass.AUTH,
        "acting for the mailbox failed (impersonation)" + _APP,
    ),
    "ErrorAccountDisabled": (FailureClass.AUTH, "the account is disabled" + _ADMIN),
    "ErrorNonExistentMailbox": (
        FailureClass.CONFIG,
        "Exchange knows no such mailbox; check mailbox (or fromEmail, which names the "
        "sending mailbox when mailbox is not set)",
    ),
    "ErrorNameResolutionNoResults": (
        FailureClass.CONFIG,
        "Exchange knows no mailbox with this address; check mailbox (or fromEmail, which "
        "names the sending mailbox when mailbox is not set)",
    ),
    "ErrorMissingEmailAddress": (
        FailureClass.CONFIG,
        "the login has no mailbox of its own; set mailbox to the address to send from",
    ),
    "ErrorInvalidRecipients": (FailureClass.REJECTED, "Exchange refused the recipient"),
    "ErrorInvalidSmtpAddress": (FailureClass.REJECTED, "an address is not a valid address"),
    "ErrorMessageSizeExceeded": (
        FailureClass.REJECTED,
        "the message is larger than the mailbox may send",
    ),
    "ErrorQuotaExceeded": (
        FailureClass.REJECTED,
        "the sending mailbox is over its storage quota" + _ADMIN,
    ),
    "ErrorSubmissionQuotaExceeded": (
        FailureClass.THROTTLED,
        "the mailbox has sent as many messages as Exchange allows for now; will retry",
    ),
    "ErrorServerBusy": (FailureClass.THROTTLED, "Exchange is busy and asks to back off"),
    "ErrorExceededConnectionCount": (
        FailureClass.THROTTLED,
        "Exchange allows this login no more connections now; will retry",
    ),
    "ErrorTooManyObjectsOpened": (
        FailureClass.THROTTLED,
        "Exchange is throttling this login; will retry",
    ),
    "RateLimitError": (FailureClass.THROTTLED, "Exchange is throttling this login; will retry"),
    "ErrorMailboxStoreUnavailable": (
        FailureClass.UPSTREAM,
        "the mailbox's database is unavailable; will retry",
    ),
    "ErrorMailboxMoveInProgress": (
        FailureClass.UPSTREAM,
        "the mailbox is being moved; will retry",
    ),
    "ErrorInternalServerTransientError": (
        FailureClass.UPSTREAM,
        "Exchange had a passing failure; will retry",
    ),
    "ErrorInternalServerError": (FailureClass.UPSTREAM, "Exchange failed; will retry"),
    "ErrorConnectionFailed": (
        FailureClass.UPSTREAM,
        "Exchange could not reach the mailbox's server; will retry",
    ),
    "ErrorNoRespondingCASInDestinationSite": (
        FailureClass.UPSTREAM,
        "no Exchange server of the mailbox's site answered; will retry",
    ),
    "CASError": (FailureClass.UPSTREAM, "Exchange's front end failed; will retry"),
    "ErrorInvalidServerVersion": (
        FailureClass.CONFIG,
        "the server does not take Exchange 2013 requests (Exchange 2010 and older are not "
        "supported)",
    ),
    "ErrorInvalidSchemaVersionForMailboxVersion": (
        FailureClass.CONFIG,
        "the mailbox's server does not take Exchange 2013 requests (Exchange 2010 and older "
        "are not supported)",
    ),
    "ErrorSchemaValidation": (FailureClass.REJECTED, _UNREAD),
    "ErrorInvalidRequest": (FailureClass.REJECTED, _UNREAD),
}

_STATUS_IN_TEXT = re.compile(r"Code: (\d{3})")
# How exchangelib words the errors it makes up itself (from an HTTP status, say), which
# are not Exchange's words.
_EXCHANGELIB_WORDS = ("Caused by ", "Reraised from ")


class EwsSender:
    """Sends one message per call on a thread of its own pool.

    ``autodiscover`` names the Autodiscover URLs to ask for a mailbox (the standard
    ones unless told otherwise).
    """

    def __init__(
        self,
        outbound: Outbound,
        *,
        clock: Clock | None = None,
        autodiscover: AutodiscoverUrls = autodiscover_urls,
        threads: int = THREADS,
    ) -> None:
        self._outbound = outbound
        self._clock: Clock = clock or SystemClock()
        self._tokens = TokenClient(outbound, clock=clock)
        self._autodiscover = autodiscover
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._discovered: dict[str, tuple[str, float]] = {}
        self._warned: set[str] = set()

    async def send(self, config: EwsConfig, message: OutgoingMessage) -> Receipt:
        """One ``CreateItem``. Returns a :class:`Receipt` whose ``provider_id`` is the
        Internet message id; raises :class:`DeliveryError` classified by EWS's response
        code. No reason ever holds the password, the client secret or a token."""
        secrets = [
            secret.get_secret_value()
            for secret in (config.password, config.client_secret)
            if secret is not None
        ]
        try:
            return await self._send(config, message)
        except DeliveryError as exc:
            raise scrubbed(exc, *secrets) from None

    async def _send(self, config: EwsConfig, message: OutgoingMessage) -> Receipt:
        sender = sender_address(config)
        to = recipients(message, [str(address) for address in config.to])
        mailbox = str(config.mailbox or sender)
        endpoint = await self._endpoint(config, mailbox)
        mail = EwsMail(
            endpoint=endpoint,
            auth="oauth2" if config.oauth2 else config.auth_type,
            mailbox=mailbox,
            subject=subject_line(message.subject, message.text),
            text=message.text,
            html=message.html,
            to=tuple(to),
            from_address=sender,
            from_name=clean_header_text(config.from_name or "", limit=NAME_LIMIT) or None,
            reply_to=str(config.reply_to) if config.reply_to else None,
            message_id=message_id(message.delivery_id, sender),
            username=config.username,
            password=config.password.get_secret_value() if config.password else None,
        )
        if config.oauth2:
            await self._tokens.call_with_token(
                _app(config), lambda token: self._run(replace(mail, token=token), config)
            )
        else:
            await self._run(mail, config)
        return Receipt(
            status=200,
            provider_id=mail.message_id,
            detail=f"accepted by Exchange (EWS) for {len(to)} recipient(s) from {mailbox}",
        )

    async def check(self, config: EwsConfig) -> Receipt:
        """One EWS request that sends nothing, as a send would log in (with OAuth2, a
        token just issued, not a cached one). Returns a :class:`Receipt` saying what
        answered; raises :class:`DeliveryError` classified as a send's failure would be,
        never holding the password, the client secret or a token."""
        secrets = [
            secret.get_secret_value()
            for secret in (config.password, config.client_secret)
            if secret is not None
        ]
        try:
            return await self._check(config)
        except DeliveryError as exc:
            raise scrubbed(exc, *secrets) from None

    async def _check(self, config: EwsConfig) -> Receipt:
        mailbox = str(config.mailbox or sender_address(config))
        login = EwsLogin(
            endpoint=await self._endpoint(config, mailbox),
            auth="oauth2" if config.oauth2 else config.auth_type,
            mailbox=mailbox,
            username=config.username,
            password=config.password.get_secret_value() if config.password else None,
        )
        if config.oauth2:
            login = replace(login, token=await self._tokens.new_token(_app(config)))
        try:
            answered = await self._on_thread(
                partial(_check_in_thread, login), login, config, failed="refused the check"
            )
        except TokenRejected as rejected:
            # The token was just issued: another one would be refused the same way.
            raise rejected.error from None
        host = urlsplit(login.endpoint).hostname or "?"
        return Receipt(status=200, detail=f"{WHAT} at {host} {answered}; nothing was sent")

    async def _endpoint(self, config: EwsConfig, mailbox: str) -> str:
        """The EWS URL (configured, or found by Autodiscover), checked by the policy."""
        endpoint = config.endpoint or await self._discover(mailbox, config.timeout)
        try:
            # A literal address or a wrong scheme is refused here; names are checked on
            # the addresses they resolve to, as each connection is opened.
            self._outbound.policy.check_url(endpoint)
        except BlockedDestination as exc:
            raise DeliveryError(FailureClass.CONFIG, f"EWS URL refused: {exc.reason}") from None
        self._warn_if_online(endpoint)
        return endpoint

    async def _run(self, mail: EwsMail, config: EwsConfig) -> None:
        """``mail`` sent on a worker thread within the budget, or its failure classified."""
        await self._on_thread(
            partial(_send_in_thread, mail), mail.login, config, failed="did not send the message"
        )

    async def _on_thread(
        self,
        work: Callable[[Guard, float], T],
        login: EwsLogin,
        config: EwsConfig,
        *,
        failed: str,
    ) -> T:
        """``work`` done on a worker thread within the budget, or its failure classified
        (``failed`` says what Exchange did not do, for a response code's reason)."""
        host = urlsplit(login.endpoint).hostname or "?"
        # One request, and once more if the server asks for another schema version.
        budget = 2 * config.timeout + 1.0
        deadline = time.monotonic() + budget
        guard = Guard(self._outbound.policy, config.timeout)
        loop = asyncio.get_running_loop()
        running = loop.run_in_executor(self._executor(), work, guard, deadline)
        try:
            return await asyncio.wait_for(running, budget)
        except TimeoutError:
            raise DeliveryError(
                FailureClass.TIMEOUT, f"{WHAT} at {host} did not answer within {budget:g} s"
            ) from None
        except Expired:
            raise DeliveryError(
                FailureClass.TIMEOUT,
                f"every connection to Exchange was busy for {budget:g} s; will retry",
            ) from None
        except Exception as exc:  # exchangelib's exceptions, of many kinds: all classified
            error = classify_ews(exc, host, oauth2=login.auth == "oauth2", failed=failed)
            if login.auth == "oauth2" and error.status == 401:
                raise TokenRejected(error) from None
            raise error from None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="nabat-ews")
        return self._pool

    async def _discover(self, mailbox: str, timeout_s: float) -> str:
        known = self._discovered.get(mailbox.lower())
        now = self._clock.monotonic()
        if known is not None and now < known[1]:
            return known[0]
        endpoint = await discover(
            self._outbound, mailbox, self._autodiscover(mailbox), timeout_s=timeout_s
        )
        self._discovered[mailbox.lower()] = (endpoint, now + DISCOVERED_FOR_S)
        return endpoint

    def _warn_if_online(self, endpoint: str) -> None:
        host = (urlsplit(endpoint).hostname or "").lower()
        if host in ONLINE_HOSTS and host not in self._warned:
            self._warned.add(host)
            log.warning(
                "an EWS channel sends through Exchange Online (%s), which blocks EWS from "
                "1 October 2026; move it to a GRAPH_MAIL channel",
                host,
            )


def _app(config: EwsConfig) -> AppCredentials:
    if config.tenant_id is None or config.client_id is None or config.client_secret is None:
        raise DeliveryError(
            FailureClass.CONFIG, "OAuth2 is on but the app registration is incomplete"
        )
    return AppCredentials(
        authority_host=config.authority_host,
        tenant_id=config.tenant_id,
        client_id=config.client_id,
        client_secret=config.client_secret.get_secret_value(),
        scope=EWS_SCOPE,
    )


def _send_in_thread(mail: EwsMail, guard: Guard, deadline: float) -> None:
    # Imported here, on the worker thread: exchangelib takes over a second to import,
    # which must not stall the event loop (or every process that never sends over EWS).
    from nabat.channels.ews_client import send_mail

    send_mail(mail, guard, deadline)


def _check_in_thread(login: EwsLogin, guard: Guard, deadline: float) -> str:
    # Imported here for the reason _send_in_thread gives.
    from nabat.channels.ews_client import check_mailbox

    return check_mailbox(login, guard, deadline)


def _names(exc: BaseException) -> list[str]:
    return [kind.__name__ for kind in type(exc).__mro__]


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def classify_ews(
    exc: BaseException, host: str, *, oauth2: bool, failed: str = "did not send the message"
) -> DeliveryError:
    """The classified failure of one exchangelib request to ``host`` (``failed`` says what
    Exchange did not do, in a response code's reason)."""
    names = _names(exc)
    context = exc.__context__
    if names[0] == "ErrorServerBusy" and str(exc).startswith("Reraised from") and context:
        # exchangelib's fail-fast path turns a passing server error (a 503, a connection
        # lost) into "server busy"; the error underneath says what happened.
        return classify_ews(context, host, oauth2=oauth2, failed=failed)
    said = _server_text(exc)
    if "UnauthorizedError" in names:
        hint = _APP if oauth2 else _LOGIN
        return DeliveryError(
            FailureClass.AUTH, f"{WHAT} at {host} refused the login (HTTP 401){hint}", status=401
        )
    for name in names:
        known = ERRORS.get(name)
        if known is not None:
            failure, sentence = known
            retry_after = getattr(exc, "back_off", None) if name == "ErrorServerBusy" else None
            wait = f"; asked to wait {retry_after:g} s" if retry_after else "; will retry"
            if name == "ErrorServerBusy":
                sentence += wait
            return DeliveryError(
                failure,
                f"{WHAT} at {host} {failed} ({name}): {sentence}{said}",
                retry_after=float(retry_after) if retry_after else None,
            )
    return _transport_failure(exc, names, host)


def _transport_failure(exc: BaseException, names: list[str], host: str) -> DeliveryError:
    """Failures below EWS: refused destination, TLS, connection, timeout, HTTP status."""
    chain = _chain(exc)
    blocked = blocked_cause(exc)
    if blocked is not None:
        return DeliveryError(FailureClass.CONFIG, f"EWS URL refused: {blocked.reason}")
    # Exact types: urllib3's NewConnectionError (a refused connection) is a subclass of
    # its ConnectTimeoutError.
    chain_names = {type(error).__name__ for error in chain}
    if "SSLError" in chain_names:
        return DeliveryError(
            FailureClass.CONFIG,
            f"the TLS connection to {WHAT} at {host} failed (is its certificate valid and "
            "trusted by this machine?)",
        )
    if "NewConnectionError" in chain_names or "NameResolutionError" in chain_names:
        return DeliveryError(FailureClass.NETWORK, f"cannot reach {WHAT} at {host}")
    if chain_names & {"ConnectTimeout", "ReadTimeout", "ConnectTimeoutError", "ReadTimeoutError"}:
        return DeliveryError(FailureClass.TIMEOUT, f"{WHAT} at {host} did not answer in time")
    if "RedirectError" in names:
        target = urlsplit(str(getattr(exc, "url", ""))).hostname or "another address"
        return DeliveryError(
            FailureClass.CONFIG,
            f"{WHAT} at {host} redirected to {target}; redirects are not followed, set "
            "server to the final EWS URL",
        )
    if chain_names & {"ConnectionError", "NewConnectionError", "ErrorTimeoutExpired"}:
        return DeliveryError(FailureClass.NETWORK, f"cannot reach {WHAT} at {host}")
    status = _status(exc)
    if status is not None:
        if status in (404, 405):
            return DeliveryError(
                FailureClass.CONFIG,
                f"{WHAT} at {host} has no EWS at this URL (HTTP {status}); check server",
                status=status,
            )
        failure = FailureClass.UPSTREAM if status >= 500 else FailureClass.REJECTED
        return DeliveryError(
            failure, f"{WHAT} at {host} answered HTTP {status} instead of EWS", status=status
        )
    if names[0] in ("MalformedResponseError", "SOAPError"):
        return DeliveryError(
            FailureClass.UPSTREAM, f"{WHAT} at {host} gave an answer that is not EWS; will retry"
        )
    if "ValueError" in names or "InvalidTypeError" in names:
        return DeliveryError(
            FailureClass.CONFIG, f"the message could not be made for EWS ({names[0]})"
        )
    if "EWSError" in names:
        return DeliveryError(
            FailureClass.UPSTREAM, f"{WHAT} at {host} failed ({names[0]}); will retry"
        )
    return DeliveryError(
        FailureClass.INTERNAL, f"sending through EWS failed unexpectedly ({names[0]}); will retry"
    )


def _server_text(exc: BaseException) -> str:
    """What Exchange said, for a response-code error (its text is the server's message)."""
    if "ResponseMessageError" not in _names(exc):
        return ""
    text = " ".join(str(exc).split())
    if not text or text.startswith(_EXCHANGELIB_WORDS):
        return ""
    return f" (Exchange said: {text[:199] + '…' if len(text) > 200 else text})"


def _status(exc: BaseException) -> int | None:
    found = _STATUS_IN_TEXT.search(str(exc)) if "MalformedResponseError" in _names(exc) else None
    return int(found.group(1)) if found else None
