"""Telegram's migrate_to_chat_id heals the channel: the new chat id is saved and used."""

from __future__ import annotations

from fastapi import FastAPI

from nabat.models.delivery import Delivery
from nabat.services.channels import ChannelService
from nabat.services.sending import Notification, notification_events
from tests.fakes.telegram import TOKEN, TelegramFake

OLD_CHAT = -4242
NEW_CHAT = -1001234567890123


async def test_an_upgraded_group_is_followed_to_its_supergroup(app: FastAPI) -> None:
    state = app.state.nabat
    async with TelegramFake() as fake:
        fake.migrated[OLD_CHAT] = NEW_CHAT
        async with state.sessions() as session:
            view = await ChannelService(session, state.box, state.clock).create(
                1,
                name="ops chat",
                type_name="TELEGRAM",
                configuration={
                    "botToken": TOKEN,
                    "chatId": str(OLD_CHAT),
                    "apiBaseUrl": fake.api_base_url(),
                },
            )
            notification = Notification(
                status="DOWN", severity="ERROR", message="db down", channel_id=view.row.id
            )
            items = await notification_events(session, 1, [notification], state.clock.now())
            await session.commit()
        answer = await state.acceptor.accept(1, items, shape=lambda accepted: accepted[0].to_json())
        await state.new_worker().run_until_idle()
        assert [sent.chat_id for sent in fake.sent] == [NEW_CHAT]
        async with state.sessions() as session:
            channel = await ChannelService(session, state.box, state.clock).get(1, view.row.id)
            delivery = await session.get(Delivery, answer.body["deliveries"][0]["id"])
        assert channel.config.to_storage()["chatId"] == str(NEW_CHAT)
        assert delivery is not None
        assert delivery.status == "SENT"
        assert delivery.attempts == 2
