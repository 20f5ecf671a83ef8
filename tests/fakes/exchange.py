"""A fake Microsoft Exchange: the identity platform's token endpoint, Microsoft Graph
``sendMail``, an EWS SOAP endpoint and Autodiscover v2, on one local server.

- ``POST /{tenant}/oauth2/v2.0/token`` (client credentials): a token with ``expires_in``,
  or the identity platform's error document with its AADSTS code (unknown tenant
  90002, unknown application 700016, wrong secret 7000215, no admin consent 65001).
- ``POST /v1.0/users/{mailbox}/sendMail``: 202 and an empty body, or Graph's
  ``{"error": {"code", "message"}}`` (401 ``InvalidAuthenticationToken`` for an expired or
  unknown token, 403 ``ErrorAccessDenied`` without the Mail.Send role, 404
  ``ErrorInvalidUser``, 403 ``ErrorSendAsDenied``).
- ``POST /EWS/Exchange.asmx``: ``CreateItem`` answered as Exchange does: success, 401 for
  bad Basic credentials or a bad Bearer token, ``ErrorInvalidRecipients`` in the response
  message; ``ErrorServerBusy`` with ``BackOffMilliseconds`` and other faults are scripted.
  The requests that send nothing, for the scheduled check: ``GetFolder`` (the mailbox's
  ``root`` folder, ``ErrorNonExistentMailbox`` for an impersonated address without a
  mailbox) and ``ResolveNames`` (the mailbox, or ``ErrorNameResolutionNoResults``).
- Tokens are JWTs as the identity platform issues them for an application: the ``roles``
  claim holds ``Mail.Send`` (Graph, unless ``mail_send_role`` is off) or
  ``full_access_as_app`` (EWS); ``readable_tokens`` off issues opaque ones.
- ``GET /autodiscover/autodiscover.json/v1.0/{address}?Protocol=EWS``: the EWS URL.

Scripted answers are kept per endpoint (``respond_token``, ``respond_graph``,
``respond_ews``, ``respond_autodiscover``), so a script for Graph is not taken by a token
request.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.etree import ElementTree as ET

from tests.fakes.provider import FakeProvider, Recorded, Reply

# The channel types this fake speaks for (tests/test_channel_registry.py checks them).
SERVES = ("EWS", "GRAPH_MAIL")

TENANT = "5f1c1b2e-7d7a-4f2e-9a51-3c0f8e6d4b21"
CLIENT_ID = "0b6f3a9e-2c4d-4e8f-8a1b-6d5c4b3a2f10"
CLIENT_SECRET = "Qx8~kP2.vN7_rT4-sW9zL1mB6yC3dF5gH0jE"
MAILBOX = "alerts@contoso.example"
EWS_USER = "CONTOSO\\nabat-svc"
EWS_PASSWORD = "Ews-Pa55word-0042"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
EWS_SCOPE = "https://outlook.office365.com/.default"
EWS_PATH = "/EWS/Exchange.asmx"

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
MESSAGES = "http://schemas.microsoft.com/exchange/services/2006/messages"
TYPES = "http://schemas.microsoft.com/exchange/services/2006/types"
ERRORS = "http://schemas.microsoft.com/exchange/services/2006/errors"
_NS = {"s": SOAP, "m": MESSAGES, "t": TYPES}


def aad_error(status: int, error: str, code: int, description: str) -> Reply:
    """The identity platform's error document, as its token endpoint writes it."""
    trace, correlation = uuid.uuid4(), uuid.uuid4()
    return Reply.json(
        status,
        {
            "error": error,
            "error_description": (
                f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\n"
                f"Correlation ID: {correlation}\r\nTimestamp: 2026-01-01 00:00:00Z"
            ),
            "error_codes": [code],
            "timestamp": "2026-01-01 00:00:00Z",
            "trace_id": str(trace),
            "correlation_id": str(correlation),
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
    )


def graph_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Reply:
    """Graph's error document."""
    return Reply.json(
        status,
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": "2026-01-01T00:00:00",
                    "request-id": str(uuid.uuid4()),
                    "client-request-id": str(uuid.uuid4()),
                },
            }
        },
        headers,
    )


def _envelope(body: str, *, header: bool = True) -> str:
    version = (
        '<s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="2" '
        'MajorBuildNumber="1544" MinorBuildNumber="4" Version="V2017_07_11" '
        f'xmlns:h="{TYPES}"/></s:Header>'
        if header
        else ""
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}">{version}'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    )


def _xml(status: int, text: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, text, headers or {}, "text/xml")


def ews_create_item(
    response_class: str = "Success", code: str = "NoError", text: str = ""
) -> Reply:
    """A ``CreateItemResponse`` with one response message (HTTP 200, as Exchange answers
    both a sent message and a refused one)."""
    message_text = f"<m:MessageText>{text}</m:MessageText>" if text else ""
    return _xml(
        200,
        _envelope(
            f'<m:CreateItemResponse xmlns:m="{MESSAGES}" xmlns:t="{TYPES}"><m:ResponseMessages>'
            f'<m:CreateItemResponseMessage ResponseClass="{response_class}">{message_text}'
            f"<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0"
            "</m:DescriptiveLinkKey><m:Items/></m:CreateItemResponseMessage>"
            "</m:ResponseMessages></m:CreateItemResponse>"
        ),
    )


def ews_fault(code: str, message: str, values: dict[str, str] | None = None) -> Reply:
    """A SOAP fault as Exchange sends it: HTTP 500, the EWS code in ``detail``, named
    values (``BackOffMilliseconds``) in ``MessageXml``."""
    value_xml = "".join(
        f'<t:Value Name="{name}">{value}</t:Value>' for name, value in (values or {}).items()
    )
    message_xml = f'<t:MessageXml xmlns:t="{TYPES}">{value_xml}</t:MessageXml>' if values else ""
    return _xml(
        500,
        _envelope(
            "<s:Fault>"
            f'<faultcode xmlns:a="{TYPES}">a:{code}</faultcode>'
            f'<faultstring xml:lang="en-US">{message}</faultstring>'
            f'<detail><e:ResponseCode xmlns:e="{ERRORS}">{code}</e:ResponseCode>'
            f'<e:Message xmlns:e="{ERRORS}">{message}</e:Message>{message_xml}</detail>'
            "</s:Fault>",
            header=False,
        ),
    )


def ews_server_busy(back_off_ms: int) -> Reply:
    """Exchange's throttling answer: ``ErrorServerBusy`` with ``BackOffMilliseconds``."""
    return ews_fault(
        "ErrorServerBusy",
        "The server cannot service this request right now. Try again later.",
        {"BackOffMilliseconds": str(back_off_ms)},
    )


def ews_unauthorized() -> Reply:
    """IIS's 401 in front of EWS: no SOAP, a challenge."""
    return Reply(401, "", {"WWW-Authenticate": 'Basic realm="mail.contoso.example"'}, "text/html")


def ews_response(
    operation: str,
    body: str,
    response_class: str = "Success",
    code: str = "NoError",
    text: str = "",
) -> Reply:
    """One response message of ``operation`` (``GetFolder``, ``ResolveNames``) holding
    ``body``, HTTP 200 as Exchange answers success and refusal alike."""
    message_text = f"<m:MessageText>{text}</m:MessageText>" if text else ""
    return _xml(
        200,
        _envelope(
            f'<m:{operation}Response xmlns:m="{MESSAGES}" xmlns:t="{TYPES}"><m:ResponseMessages>'
            f'<m:{operation}ResponseMessage ResponseClass="{response_class}">{message_text}'
            f"<m:ResponseCode>{code}</m:ResponseCode>{body}"
            f"</m:{operation}ResponseMessage></m:ResponseMessages></m:{operation}Response>"
        ),
    )


def _jwt(claims: dict[str, Any]) -> str:
    def part(document: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()

    return f"{part({'typ': 'JWT', 'alg': 'RS256'})}.{part(claims)}.{secrets.token_urlsafe(48)}"


@dataclass(frozen=True)
class EwsMessage:
    """A message EWS was asked to send, as the fake read it from the SOAP request."""

    disposition: str
    version: str
    impersonated: str | None
    subject: str
    body_type: str
    body: str
    to: list[str]
    from_address: str | None
    from_name: str | None
    reply_to: list[str]
    message_id: str | None
    authorization: str


@dataclass(frozen=True)
class GraphMessage:
    """A message Graph accepted: the mailbox it was posted to and the body."""

    mailbox: str
    body: dict[str, Any]


@dataclass
class _Token:
    scope: str
    expired: bool = False


class ExchangeFake(FakeProvider):
    """One tenant with one app registration, Exchange Online's Graph and an EWS server.

    ``consented`` false: the token endpoint answers AADSTS65001; ``mail_send_role`` false:
    tokens come without the Mail.Send role and Graph answers 403; ``expires_in`` is the
    lifetime the token endpoint gives its tokens.
    """

    def __init__(self, *, expires_in: int = 3599) -> None:
        super().__init__()
        self.mailboxes: set[str] = {MAILBOX}
        self.ews_users: dict[str, str] = {EWS_USER: EWS_PASSWORD}
        self.unknown_recipients: set[str] = set()
        self.consented = True
        self.mail_send_role = True
        self.readable_tokens = True
        self.expires_in = expires_in
        self.tokens: dict[str, _Token] = {}
        self.graph_sent: list[GraphMessage] = []
        self.ews_sent: list[EwsMessage] = []
        self.ews_operations: list[str] = []
        self._scripts: dict[str, deque[Reply]] = {
            "token": deque(),
            "graph": deque(),
            "ews": deque(),
            "autodiscover": deque(),
        }

    # Scripts and state.

    def respond_token(self, *replies: Reply) -> None:
        """Queue answers to the next token requests."""
        self._scripts["token"].extend(replies)

    def respond_graph(self, *replies: Reply) -> None:
        """Queue answers to the next ``sendMail`` requests."""
        self._scripts["graph"].extend(replies)

    def respond_ews(self, *replies: Reply) -> None:
        """Queue answers to the next EWS requests."""
        self._scripts["ews"].extend(replies)

    def respond_autodiscover(self, *replies: Reply) -> None:
        """Queue answers to the next Autodiscover requests."""
        self._scripts["autodiscover"].extend(replies)

    def expire_tokens(self) -> None:
        """Every token issued so far runs out (Graph and EWS answer 401 to it)."""
        for token in self.tokens.values():
            token.expired = True

    @property
    def ews_url(self) -> str:
        """What to configure as the EWS ``server``."""
        return self.base_url + EWS_PATH

    def requests_to(self, kind: str) -> list[Recorded]:
        """The requests of one endpoint: ``token``, ``graph``, ``ews`` or ``autodiscover``."""
        return [request for request in self.requests if _route(request.path) == kind]

    # The protocol.

    async def answer(self, request: Recorded) -> Reply:
        """The answer of the endpoint ``request`` is for."""
        kind = _route(request.path)
        script = self._scripts.get(kind or "")
        if script:
            return script.popleft()
        if kind == "token":
            return self._token(request)
        if kind == "graph":
            return self._send_mail(request)
        if kind == "ews":
            return self._ews(request)
        if kind == "autodiscover":
            return self._autodiscover(request)
        return graph_error(404, "ResourceNotFound", "Resource could not be discovered.")

    def _token(self, request: Recorded) -> Reply:
        tenant = request.path.split("/")[1]
        form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
        if tenant != TENANT:
            return aad_error(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant "
                "ID and are signing into the correct cloud.",
            )
        if form.get("grant_type") != "client_credentials":
            return aad_error(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        if form.get("client_id") != CLIENT_ID:
            return aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the "
                f"directory '{tenant}'.",
            )
        if form.get("client_secret") != CLIENT_SECRET:
            return aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request "
                f"is the client secret value, not the client secret ID, for a secret added "
                f"to app '{CLIENT_ID}'.",
            )
        scope = form.get("scope", "")
        if scope not in (GRAPH_SCOPE, EWS_SCOPE):
            return aad_error(
                400,
                "invalid_scope",
                70011,
                f"The provided value for the input parameter 'scope' is not valid. The scope "
                f"{scope} is not valid.",
            )
        if not self.consented:
            return aad_error(
                400,
                "invalid_grant",
                65001,
                f"The user or administrator has not consented to use the application with ID "
                f"'{CLIENT_ID}'. Send an interactive authorization request for this user and "
                "resource.",
            )
        self.tokens[token := self._issue(scope)] = _Token(scope)
        return Reply.json(
            200,
            {
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "ext_expires_in": self.expires_in,
                "access_token": token,
            },
        )

    def _issue(self, scope: str) -> str:
        if not self.readable_tokens:
            return secrets.token_urlsafe(64)
        claims: dict[str, Any] = {
            "aud": scope.removesuffix("/.default"),
            "iss": f"https://sts.windows.net/{TENANT}/",
            "appid": CLIENT_ID,
            "tid": TENANT,
            "uti": secrets.token_urlsafe(16),
        }
        if scope == EWS_SCOPE:
            claims["roles"] = ["full_access_as_app"]
        elif self.mail_send_role:
            claims["roles"] = ["Mail.Send"]
        return _jwt(claims)

    def _bearer(self, request: Recorded, scope: str) -> _Token | None:
        kind, _, value = request.headers.get("authorization", "").partition(" ")
        token = self.tokens.get(value) if kind.lower() == "bearer" else None
        if token is None or token.expired or token.scope != scope:
            return None
        return token

    def _send_mail(self, request: Recorded) -> Reply:
        if self._bearer(request, GRAPH_SCOPE) is None:
            return graph_error(
                401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid."
            )
        if not self.mail_send_role:
            return graph_error(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        mailbox = unquote(request.path.split("/")[3])
        if mailbox not in self.mailboxes:
            return graph_error(
                404, "ErrorInvalidUser", f"The requested user '{mailbox}' is invalid."
            )
        document = request.json()
        message = document.get("message") if isinstance(document, dict) else None
        if not isinstance(message, dict) or message.get("body", {}).get("contentType") not in (
            "Text",
            "HTML",
        ):
            return graph_error(400, "RequestBodyRead", "Cannot read the request body.")
        sender = message.get("from", {}).get("emailAddress", {}).get("address")
        if sender is not None and sender != mailbox:
            return graph_error(
                403,
                "ErrorSendAsDenied",
                "The user account which was used to submit this request does not have the "
                "right to send mail on behalf of the specified sending account.",
            )
        to = [entry["emailAddress"]["address"] for entry in message.get("toRecipients", [])]
        if not to or any(address in self.unknown_recipients for address in to):
            return graph_error(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
        self.graph_sent.append(GraphMessage(mailbox, document))
        return Reply(202)

    def _ews_authorized(self, request: Recorded) -> bool:
        kind, _, value = request.headers.get("authorization", "").partition(" ")
        if kind.lower() == "basic":
            user, _, password = base64.b64decode(value).decode().partition(":")
            return self.ews_users.get(user) == password
        return self._bearer(request, EWS_SCOPE) is not None

    def _ews(self, request: Recorded) -> Reply:
        if request.method != "POST":
            return Reply(405, "", {}, "text/html")
        if not self._ews_authorized(request):
            return ews_unauthorized()
        try:
            # Only Nabat's own requests reach this local fake.
            envelope = ET.fromstring(request.body)  # noqa: S314
        except ET.ParseError:
            return ews_fault("ErrorSchemaValidation", "The request failed schema validation.")
        body = envelope.find("s:Body", _NS)
        operation = body[0].tag.rpartition("}")[2] if body is not None and len(body) else ""
        self.ews_operations.append(operation)
        impersonated = envelope.findtext(
            "s:Header/t:ExchangeImpersonation/t:ConnectingSID/t:PrimarySmtpAddress",
            namespaces=_NS,
        )
        if impersonated is not None and impersonated not in self.mailboxes:
            return ews_fault(
                "ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it."
            )
        if operation == "GetFolder":
            return self._get_folder(envelope)
        if operation == "ResolveNames":
            return self._resolve_names(envelope)
        create = envelope.find("s:Body/m:CreateItem", _NS)
        item = envelope.find("s:Body/m:CreateItem/m:Items/t:Message", _NS)
        if create is None or item is None:
            return ews_fault("ErrorInvalidRequest", "The request is invalid.")
        to = [
            address.text or ""
            for address in item.findall("t:ToRecipients/t:Mailbox/t:EmailAddress", _NS)
        ]
        if not to or any(address in self.unknown_recipients for address in to):
            return ews_create_item(
                "Error", "ErrorInvalidRecipients", "At least one recipient isn't valid."
            )
        body = item.find("t:Body", _NS)
        version = envelope.find("s:Header/t:RequestServerVersion", _NS)
        self.ews_sent.append(
            EwsMessage(
                disposition=create.get("MessageDisposition", ""),
                version=version.get("Version", "") if version is not None else "",
                impersonated=impersonated,
                subject=item.findtext("t:Subject", "", _NS),
                body_type=body.get("BodyType", "") if body is not None else "",
                body=(body.text or "") if body is not None else "",
                to=to,
                from_address=item.findtext("t:From/t:Mailbox/t:EmailAddress", None, _NS),
                from_name=item.findtext("t:From/t:Mailbox/t:Name", None, _NS),
                reply_to=[
                    address.text or ""
                    for address in item.findall("t:ReplyTo/t:Mailbox/t:EmailAddress", _NS)
                ],
                message_id=item.findtext("t:InternetMessageId", None, _NS),
                authorization=request.headers.get("authorization", "").partition(" ")[0],
            )
        )
        return ews_create_item()

    def _get_folder(self, envelope: ET.Element) -> Reply:
        folder = envelope.find("s:Body/m:GetFolder/m:FolderIds/t:DistinguishedFolderId", _NS)
        address = envelope.findtext(
            "s:Body/m:GetFolder/m:FolderIds/t:DistinguishedFolderId/t:Mailbox/t:EmailAddress",
            namespaces=_NS,
        )
        if folder is None or folder.get("Id") != "root":
            return ews_fault("ErrorInvalidRequest", "The request is invalid.")
        if address not in self.mailboxes:
            return ews_response(
                "GetFolder",
                "",
                "Error",
                "ErrorNonExistentMailbox",
                "The SMTP address has no mailbox associated with it.",
            )
        return ews_response(
            "GetFolder",
            "<m:Folders><t:Folder>"
            '<t:FolderId Id="AAMkADRoot=" ChangeKey="AQAAABYAAAA="/>'
            "<t:DisplayName>Root</t:DisplayName>"
            "<t:TotalCount>0</t:TotalCount><t:ChildFolderCount>12</t:ChildFolderCount>"
            "<t:UnreadCount>0</t:UnreadCount></t:Folder></m:Folders>",
        )

    def _resolve_names(self, envelope: ET.Element) -> Reply:
        entry = envelope.findtext("s:Body/m:ResolveNames/m:UnresolvedEntry", "", _NS)
        if entry not in self.mailboxes:
            return ews_response(
                "ResolveNames",
                "",
                "Error",
                "ErrorNameResolutionNoResults",
                "No results were found.",
            )
        return ews_response(
            "ResolveNames",
            '<m:ResolutionSet TotalItemsInView="1" IncludesLastItemInRange="true">'
            "<t:Resolution><t:Mailbox><t:Name>Alerts</t:Name>"
            f"<t:EmailAddress>{entry}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType>"
            "<t:MailboxType>Mailbox</t:MailboxType></t:Mailbox></t:Resolution>"
            "</m:ResolutionSet>",
        )

    def _autodiscover(self, request: Recorded) -> Reply:
        address = unquote(request.path.rsplit("/", 1)[-1])
        if request.query.get("Protocol", "").lower() != "ews" or address not in self.mailboxes:
            return Reply.json(404, {"ErrorCode": "NotFound", "ErrorMessage": "Not found"})
        return Reply.json(200, {"Protocol": "EWS", "Url": self.ews_url})


def _route(path: str) -> str | None:
    if path.endswith("/oauth2/v2.0/token"):
        return "token"
    if path.startswith("/v1.0/users/") and path.endswith("/sendMail"):
        return "graph"
    if path == EWS_PATH:
        return "ews"
    if path.startswith("/autodiscover/autodiscover.json/"):
        return "autodiscover"
    return None


def graph_body(message: GraphMessage) -> dict[str, Any]:
    """The ``message`` object of an accepted ``sendMail`` body."""
    body: dict[str, Any] = message.body["message"]
    return body
