"""What the Telegram emulator learnt for the storefront: editMessageMedia, editMessageCaption
and deleteMessage, driven by the real python-telegram-bot."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InputMediaPhoto
from telegram.error import BadRequest

from sandbox.telegram_api import TelegramEmulator
from tests.helpers import png

BUYER_ID = 42
URL = "https://shop.example/a.png"


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(rate_limits=None) as emulator:
        emulator.user(BUYER_ID, "Ada")
        yield emulator


@pytest.fixture
async def bot(emulator: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(emulator.token, base_url=emulator.base_url) as bot:
        yield bot


async def test_a_photo_can_be_added_to_a_text_message(emulator: TelegramEmulator, bot: Bot) -> None:
    emulator.web_files[URL] = png(200, 100)
    text = await bot.send_message(BUYER_ID, "list")
    edited = await bot.edit_message_media(
        InputMediaPhoto(URL, caption="<b>Card</b>", parse_mode="HTML"), BUYER_ID, text.message_id
    )
    assert not isinstance(edited, bool)
    assert edited.text is None and edited.caption == "Card"
    assert edited.photo[-1].width == 200
    assert emulator.messages_to(BUYER_ID)[0]["caption_entities"][0]["type"] == "bold"
    assert emulator.photos_to(BUYER_ID) == [png(200, 100)]


async def test_a_photo_is_replaced_by_an_upload_or_a_file_id(
    emulator: TelegramEmulator, bot: Bot
) -> None:
    first = await bot.send_photo(BUYER_ID, png(10, 10))
    edited = await bot.edit_message_media(
        InputMediaPhoto(png(30, 20), caption="new"), BUYER_ID, first.message_id
    )
    assert not isinstance(edited, bool) and edited.photo[-1].width == 30
    back = await bot.edit_message_media(
        InputMediaPhoto(first.photo[-1].file_id), BUYER_ID, first.message_id
    )
    assert not isinstance(back, bool) and back.caption is None and back.photo[-1].width == 10


async def test_a_photo_telegram_cannot_fetch_changes_nothing(
    emulator: TelegramEmulator, bot: Bot
) -> None:
    text = await bot.send_message(BUYER_ID, "list")
    before = emulator.messages_to(BUYER_ID)
    with pytest.raises(BadRequest, match=r"(?i)failed to get http url content"):
        await bot.edit_message_media(InputMediaPhoto(URL), BUYER_ID, text.message_id)
    assert emulator.messages_to(BUYER_ID) == before


async def test_a_caption_is_edited_only_on_a_message_with_media(
    emulator: TelegramEmulator, bot: Bot
) -> None:
    photo = await bot.send_photo(BUYER_ID, png(10, 10), caption="one")
    edited = await bot.edit_message_caption(BUYER_ID, photo.message_id, caption="two")
    assert not isinstance(edited, bool) and edited.caption == "two" and edited.photo
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_caption(BUYER_ID, photo.message_id, caption="two")
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await bot.edit_message_caption(BUYER_ID, photo.message_id, caption="x" * 1025)
    text = await bot.send_message(BUYER_ID, "plain")
    with pytest.raises(BadRequest, match=r"(?i)no caption in the message to edit"):
        await bot.edit_message_caption(BUYER_ID, text.message_id, caption="x")
    with pytest.raises(BadRequest, match=r"(?i)no text in the message to edit"):
        await bot.edit_message_text("x", BUYER_ID, photo.message_id)


async def test_the_bot_deletes_its_own_messages_once(emulator: TelegramEmulator, bot: Bot) -> None:
    message = await bot.send_message(BUYER_ID, "card")
    assert await bot.delete_message(BUYER_ID, message.message_id)
    assert emulator.messages_to(BUYER_ID) == []
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(BUYER_ID, message.message_id)
