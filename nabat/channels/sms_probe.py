"""The scheduled check of an SMS channel, which sends no SMS (every one is paid for).

Twilio, SMS.ru and SMSC.ru are asked for the account's balance with the channel's
credentials: the answer proves the credentials and the provider, and a balance of zero or
less fails the check, since the next alert could not be sent. A generic gateway has no
such call, so its check only reaches its host (:func:`nabat.channels.sms_gateway.reach`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from nabat.channels import sms_gateway, sms_smsc, sms_smsru, sms_twilio
from nabat.channels.contract import DeliveryError, FailureClass, Receipt
from nabat.channels.outbound import Outbound
from nabat.channels.redact import scrubbed
from nabat.channels.sms_result import Balance

if TYPE_CHECKING:
    from nabat.channels.sms import SmsConfig

BalanceCall = Callable[[Outbound, "SmsConfig"], Awaitable[Balance]]

BALANCES: dict[str, BalanceCall] = {
    "TWILIO": sms_twilio.balance,
    "SMSRU": sms_smsru.balance,
    "SMSC": sms_smsc.balance,
}
"""Each provider's account call; a provider not named here has none."""

GATEWAY_LIMITS = (
    "; a generic gateway has no request that sends nothing, so its credentials and answers "
    "are checked only by real sends and the Test button"
)


def judged(balance: Balance) -> Receipt:
    """The check's receipt for a balance, naming it; raises a ``config``
    :class:`DeliveryError` when the account has no money left."""
    amount = None if balance.amount is None else f"{balance.amount:f}"
    shown = " ".join(part for part in (amount, balance.currency) if part)
    note = f"; {balance.note}" if balance.note else ""
    if balance.amount is not None and balance.amount <= 0:
        raise DeliveryError(
            FailureClass.CONFIG,
            f"{balance.account} has no money left (balance {shown}{note}); top it up, or "
            "no SMS can be sent",
        )
    said = f"balance {shown}" if shown else "no balance shown"
    return Receipt(detail=f"{balance.account} answers: {said}{note}")


class SmsChecker:
    """Checks an SMS channel through its provider's account call, sending nothing."""

    def __init__(self, outbound: Outbound) -> None:
        self._outbound = outbound

    async def check(self, config: SmsConfig) -> Receipt:
        """The provider's balance (or, for a gateway, its host reached); raises
        :class:`DeliveryError` classified by the provider's codes, never holding a
        secret."""
        try:
            call = BALANCES.get(config.provider)
            if call is None:
                reached = await sms_gateway.reach(self._outbound, config)
                return Receipt(detail=reached + GATEWAY_LIMITS)
            return judged(await call(self._outbound, config))
        except DeliveryError as exc:
            raise scrubbed(exc, *config.secret_texts()) from None
