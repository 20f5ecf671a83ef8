"""EMAIL: SMTP with implicit TLS, mandatory STARTTLS or plain (seed 002, seed 003)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, EmailStr, Field, model_validator

from nabat.channels.base import ChannelConfig, Float, Int, RawSecret, SingleLine, config_error
from nabat.channels.descriptor import ChannelType, Phrase, SenderParts
from nabat.channels.email_sender import EmailSender
from nabat.channels.mail_sender import with_project
from nabat.errors import ErrorCode
from nabat.sentences import Sentence

Encryption = Literal["ssl", "starttls", "none"]

# Seed 003 names the modes "SSL", "TLS" and "Без шифрования" (none); its "TLS" is the
# upgrade of a plain connection, STARTTLS. Any case is accepted.
_ENCRYPTION_NAMES = {"tls": "starttls"}


def _encryption_name(value: object) -> object:
    if not isinstance(value, str):
        return value
    name = value.strip().lower()
    return _ENCRYPTION_NAMES.get(name, name)


def _split_addresses(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
    return value


class EmailConfig(ChannelConfig):
    """SMTP settings. ``useTls`` (seed) and ``encryption`` (explicit) must agree."""

    type_name: ClassVar[str] = "EMAIL"
    destination_keys: ClassVar[tuple[str, ...]] = ("smtpHost",)

    smtp_host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.\-:\[\]_]+$")
    smtp_port: Int = Field(ge=1, le=65535)
    username: SingleLine | None = Field(default=None, max_length=320)
    password: RawSecret | None = Field(default=None, max_length=1024)
    from_email: EmailStr | None = None
    from_name: SingleLine | None = Field(default=None, max_length=200)
    reply_to: EmailStr | None = None
    to: Annotated[list[EmailStr], BeforeValidator(_split_addresses)] = Field(
        default_factory=list, max_length=100
    )
    use_tls: bool | None = None
    encryption: Annotated[Encryption, BeforeValidator(_encryption_name)] | None = None
    auth: bool | None = None
    timeout: Float = Field(default=30.0, gt=0, le=300)

    @model_validator(mode="after")
    def _consistent(self) -> EmailConfig:
        if self.use_tls is False and self.encryption in ("ssl", "starttls"):
            raise config_error(
                "useTls",
                Sentence(
                    "useTls is false but encryption is {encryption!r}; "
                    "drop useTls or make them agree",
                    encryption=self.encryption,
                ),
                "invalid_combination",
            )
        if self.use_tls is True and self.encryption == "none":
            raise config_error(
                "useTls",
                "useTls is true but encryption is 'none'; drop useTls or make them agree",
                "invalid_combination",
            )
        if self.uses_auth and (not self.username or self.password is None):
            raise config_error(
                "password" if self.username else "username",
                "SMTP authentication is on, so username and password are required "
                "(set auth to false for a server that takes mail without login)",
                "missing",
            )
        return self

    @property
    def effective_encryption(self) -> Encryption:
        """The TLS mode in force: explicit, else implied by ``useTls`` and the port.

        With nothing said, STARTTLS is required, never opportunistic; port 465 means
        implicit TLS (RFC 8314).
        """
        if self.encryption is not None:
            return self.encryption
        if self.smtp_port == 465 and self.use_tls is not False:
            return "ssl"
        if self.use_tls is False:
            return "none"
        return "starttls"

    @property
    def uses_auth(self) -> bool:
        """Whether to log in: explicit ``auth``, else whenever a username is given."""
        if self.auth is not None:
            return self.auth
        return bool(self.username)


def _addressed(config: EmailConfig) -> bool:
    return bool(config.to)


def _sender(parts: SenderParts) -> EmailSender:
    return EmailSender(parts.smtp, clock=parts.clock)


EMAIL = ChannelType(
    config=EmailConfig,
    sender=_sender,
    error_code=ErrorCode.EMAIL_ERROR,
    # Seed 001's words.
    test_sent=Phrase("Тестовое письмо успешно отправлено", "Test e-mail sent successfully"),
    test_failed=Phrase("Тестовое письмо не отправлено: {reason}", "Test e-mail not sent: {reason}"),
    template_kind="email",
    address_kind="EMAIL",
    preference_kind="email",
    addressed=_addressed,
    with_project=with_project,
    probe=_sender,
)
