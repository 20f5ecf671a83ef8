"""GRAPH_MAIL delivery: one ``POST {graph}/v1.0/users/{mailbox}/sendMail`` (CONTRACTS.md
section 6), with a client-credentials token from :mod:`nabat.channels.ms_oauth`.

Graph answers 202 with an empty body when it has taken the message; Exchange Online
delivers it afterwards. A 401 gets one fresh token; Graph's error ``code`` decides the
class first, the status second (unknown or unreadable answers fall back to the status).

The scheduled check is a token just issued for the app registration, its ``Mail.Send``
role read where the token can be read: with ``Mail.Send`` alone the app may send and
nothing else (not even read the mailbox), so no Graph request could check more without
sending.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from nabat.channels.contract import DeliveryError, FailureClass, OutgoingMessage, Receipt
from nabat.channels.email_message import (
    NAME_LIMIT,
    clean_header_text,
    message_id,
    subject_line,
)
from nabat.channels.http_status import classify_status, parse_retry_after, snippet
from nabat.channels.mail_sender import recipients, sender_address
from nabat.channels.ms_oauth import (
    GRAPH_SCOPE,
    AppCredentials,
    TokenClient,
    TokenRejected,
    token_roles,
)
from nabat.channels.ms_oauth import WHAT as SIGN_IN
from nabat.channels.outbound import HttpAnswer, Outbound
from nabat.channels.redact import scrubbed
from nabat.clock import Clock

if TYPE_CHECKING:
    from nabat.channels.graph_mail import GraphMailConfig

WHAT = "Microsoft Graph"
_SERVICE = "Microsoft Graph service"  # classify_status says "the {what}"
DEFAULT_GRAPH = "https://graph.microsoft.com"
"""Microsoft Graph in Microsoft's global cloud."""

_PERMISSION = (
    "; the app registration needs the Microsoft Graph application permission Mail.Send "
    "with admin consent, and a tenant application access policy, if there is one, must "
    "include the mailbox"
)
MAIL_SEND = "Mail.Send"
"""The application permission ``sendMail`` needs."""
_MAILBOX = "; check mailbox (or fromEmail, which names the sending mailbox when mailbox is not set)"
_OUR_BUG = "; this is a bug in Nabat's message builder, please report it"

# Graph's error codes for mail (Exchange Online's Error* names and Graph's own).
# https://learn.microsoft.com/graph/errors, https://learn.microsoft.com/graph/api/user-sendmail
ERRORS: dict[str, tuple[FailureClass, str]] = {
    "InvalidAuthenticationToken": (
        FailureClass.AUTH,
        "Graph refused a fresh access token; check that tenantId names the tenant of the mailbox",
    ),
    "ErrorAccessDenied": (FailureClass.AUTH, "the application may not send mail" + _PERMISSION),
    "AccessDenied": (FailureClass.AUTH, "the application may not send mail" + _PERMISSION),
    "Authorization_RequestDenied": (
        FailureClass.AUTH,
        "the application may not send mail" + _PERMISSION,
    ),
    "ErrorSendAsDenied": (
        FailureClass.AUTH,
        "the mailbox may not send as the From address; grant the mailbox Send As on that "
        "address, or make fromEmail the mailbox's own address",
    ),
    "ErrorInvalidUser": (FailureClass.CONFIG, "Graph knows no such mailbox" + _MAILBOX),
    "ResourceNotFound": (FailureClass.CONFIG, "Graph knows no such mailbox" + _MAILBOX),
    "MailboxNotEnabledForRESTAPI": (
        FailureClass.CONFIG,
        "the mailbox is inactive, soft-deleted or on premises; an on-premises mailbox is "
        "reached with an EWS channel",
    ),
    "ErrorInvalidRecipients": (FailureClass.REJECTED, "Exchange Online refused the recipient"),
    "ErrorInvalidSmtpAddress": (FailureClass.REJECTED, "an address is not a valid address"),
    "ErrorMessageSizeExceeded": (
        FailureClass.REJECTED,
        "the message is larger than the mailbox may send",
    ),
    "ErrorQuotaExceeded": (
        FailureClass.REJECTED,
        "the sending mailbox is over its storage quota; free space in it or turn "
        "saveToSentItems off",
    ),
    "ErrorSubmissionQuotaExceeded": (
        FailureClass.THROTTLED,
        "the mailbox has sent as many messages as Exchange Online allows for now; will retry",
    ),
    "ErrorServerBusy": (FailureClass.THROTTLED, "Exchange Online is busy; will retry"),
    "ApplicationThrottled": (
        FailureClass.THROTTLED,
        "Graph is throttling the application; will retry",
    ),
    "TooManyRequests": (FailureClass.THROTTLED, "Graph is throttling the mailbox; will retry"),
    "ErrorTooManyObjectsOpened": (
        FailureClass.THROTTLED,
        "Exchange Online is throttling the mailbox; will retry",
    ),
    "ServiceUnavailable": (FailureClass.UPSTREAM, "Graph is unavailable; will retry"),
    "ErrorInternalServerTransientError": (
        FailureClass.UPSTREAM,
        "Exchange Online had a passing failure; will retry",
    ),
    "ErrorMailboxStoreUnavailable": (
        FailureClass.UPSTREAM,
        "the mailbox's database is unavailable; will retry",
    ),
    "ErrorMailboxMoveInProgress": (
        FailureClass.UPSTREAM,
        "the mailbox is being moved; will retry",
    ),
    "RequestBodyRead": (FailureClass.REJECTED, "Graph could not read the message" + _OUR_BUG),
    "ErrorInvalidRequest": (FailureClass.REJECTED, "Graph could not read the message" + _OUR_BUG),
}


def graph_message(
    config: GraphMailConfig, message: OutgoingMessage, sender: str, to: list[str]
) -> dict[str, Any]:
    """The ``sendMail`` body: subject, the HTML body (the text when there is no HTML),
    From with the sender name, Reply-To, the recipients and a stable Internet message id
    (the same as EMAIL's ``Message-ID``, so a duplicate can be told from a second alert)."""
    if message.html is not None:
        body = {"contentType": "HTML", "content": message.html}
    else:
        body = {"contentType": "Text", "content": message.text}
    author: dict[str, str] = {"address": sender}
    name = clean_header_text(config.from_name or "", limit=NAME_LIMIT)
    if name:
        author["name"] = name
    document: dict[str, Any] = {
        "subject": subject_line(message.subject, message.text),
        "body": body,
        "from": {"emailAddress": author},
        "toRecipients": [{"emailAddress": {"address": address}} for address in to],
        "internetMessageId": message_id(message.delivery_id, sender),
    }
    if config.reply_to:
        document["replyTo"] = [{"emailAddress": {"address": str(config.reply_to)}}]
    return {"message": document, "saveToSentItems": config.save_to_sent_items}


class GraphMailSender:
    """Sends one message per call; tokens are cached across calls (one per app)."""

    def __init__(self, outbound: Outbound, *, clock: Clock | None = None) -> None:
        self._outbound = outbound
        self._tokens = TokenClient(outbound, clock=clock)

    async def send(self, config: GraphMailConfig, message: OutgoingMessage) -> Receipt:
        """One ``sendMail``. Returns a :class:`Receipt` whose ``provider_id`` is the
        Internet message id; raises :class:`DeliveryError` classified by Graph's error
        code. No reason ever holds the client secret or a token."""
        secret = config.client_secret.get_secret_value()
        try:
            return await self._send(config, message, secret)
        except DeliveryError as exc:
            raise scrubbed(exc, secret) from None

    async def check(self, config: GraphMailConfig) -> Receipt:
        """A token just issued for the app registration (not a cached one: the secret
        must work now), refused when it can be read and lacks ``Mail.Send``; nothing is
        sent. Raises :class:`DeliveryError` as the sign-in service's refusals are
        classified for a send, never holding the client secret or a token."""
        secret = config.client_secret.get_secret_value()
        try:
            token = await self._tokens.new_token(_app(config, secret))
        except DeliveryError as exc:
            raise scrubbed(exc, secret) from None
        roles = token_roles(token)
        if roles is not None and MAIL_SEND not in roles:
            granted = ", ".join(sorted(roles)) or "none"
            raise DeliveryError(
                FailureClass.AUTH,
                f"{SIGN_IN} issued a token without the {MAIL_SEND} permission (its "
                f"application permissions: {granted}), so Graph would refuse every "
                f"message{_PERMISSION}",
            )
        shown = f"with {MAIL_SEND}" if roles is not None else "(its permissions not readable)"
        mailbox = config.mailbox or config.from_email
        sends = f"whether {mailbox} may send" if mailbox else "whether the mailbox may send"
        return Receipt(
            status=200,
            detail=f"{SIGN_IN} issued a token for the application {config.client_id} "
            f"{shown}; {sends} shows at the first message (with {MAIL_SEND} alone, no "
            "Graph request checks more without sending)",
        )

    async def _send(
        self, config: GraphMailConfig, message: OutgoingMessage, secret: str
    ) -> Receipt:
        sender = sender_address(config)
        to = recipients(message, [str(address) for address in config.to])
        mailbox = str(config.mailbox or sender)
        document = graph_message(config, message, sender, to)
        url = f"{config.graph_base_url}/v1.0/users/{quote(mailbox, safe='@')}/sendMail"
        app = _app(config, secret)

        async def post(token: str) -> HttpAnswer:
            answer = await self._outbound.request(
                "POST",
                url,
                what=WHAT,
                timeout_s=config.timeout,
                json=document,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
            if answer.status == 401:
                raise TokenRejected(classify_graph(answer))
            return answer

        answer = await self._tokens.call_with_token(app, post)
        if 200 <= answer.status < 300:
            return Receipt(
                status=answer.status,
                provider_id=document["message"]["internetMessageId"],
                detail=f"accepted by Microsoft Graph for {len(to)} recipient(s) from {mailbox}",
            )
        raise classify_graph(answer)


def _app(config: GraphMailConfig, secret: str) -> AppCredentials:
    return AppCredentials(
        authority_host=config.authority_host,
        tenant_id=config.tenant_id,
        client_id=config.client_id,
        client_secret=secret,
        scope=GRAPH_SCOPE,
    )


def graph_error(answer: HttpAnswer) -> tuple[str | None, str]:
    """Graph's ``error.code`` and ``error.message`` (``None`` and ``""`` when the body is
    not Graph's error document)."""
    document = answer.json()
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        return None, ""
    code = error.get("code")
    text = error.get("message")
    return (code if isinstance(code, str) else None), (text if isinstance(text, str) else "")


def classify_graph(answer: HttpAnswer) -> DeliveryError:
    """The classified failure of a ``sendMail`` answer that is not 2xx."""
    status = answer.status
    code, text = graph_error(answer)
    retry_after = parse_retry_after(answer.headers.get("Retry-After"))
    said = snippet(f"{code}: {text}" if text else code or "")
    known = ERRORS.get(code) if code else None
    if known is not None:
        failure, sentence = known
    elif status == 401:
        failure, sentence = FailureClass.AUTH, "Graph refused the access token"
    elif status == 403:
        failure, sentence = FailureClass.AUTH, "the application may not send mail" + _PERMISSION
    elif status == 404:
        failure, sentence = FailureClass.CONFIG, "Graph knows no such mailbox" + _MAILBOX
    elif status == 503:
        failure, sentence = FailureClass.UPSTREAM, "Graph is unavailable; will retry"
    else:
        generic = classify_status(status, body=said, retry_after=retry_after, what=_SERVICE)
        return generic or DeliveryError(
            FailureClass.UPSTREAM, f"{WHAT} answered HTTP {status}", status=status
        )
    detail = f" (Graph said {said})" if said else ""
    return DeliveryError(
        failure,
        f"{WHAT} did not send the message (HTTP {status}): {sentence}{detail}",
        status=status,
        retry_after=retry_after if failure.transient else None,
    )
