"""The Telegram emulator, driven over HTTP by the real python-telegram-bot."""

from __future__ import annotations

import asyncio
import datetime as dtm
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from sandbox.telegram_api import (
    TELEGRAM_LIMITS,
    ApiCall,
    RateLimits,
    TelegramEmulator,
    UploadedFile,
)
from tests.helpers import png

BUYER_ID = 42


def buy_keyboard(data: str = "buy:forest-hiker") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Buy", callback_data=data)]])


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator() as emulator:
        emulator.user(BUYER_ID, "Ada", username="ada")
        yield emulator


def bot_for(emulator: TelegramEmulator) -> Bot:
    return Bot(emulator.token, base_url=emulator.base_url, base_file_url=emulator.base_file_url)


@pytest.fixture
async def bot(emulator: TelegramEmulator) -> AsyncIterator[Bot]:
    async with bot_for(emulator) as bot:
        yield bot


def in_flight(emulator: TelegramEmulator, method: str) -> bool:
    return any(call.method == method and call.status == 0 for call in emulator.calls)


# -- bot identity and raw HTTP -----------------------------------------------------------------


async def test_get_me_answers_with_the_bot_user(bot: Bot, emulator: TelegramEmulator) -> None:
    assert bot.id == 123456789
    assert bot.username == "checkout_test_bot"
    assert bot.bot.is_bot
    [call] = emulator.calls_to("getMe")
    assert call.status == 200
    assert call.response == {"ok": True, "result": emulator.bot_user}


async def test_raw_requests_get_the_real_answers(emulator: TelegramEmulator) -> None:
    root = emulator.base_url.removesuffix("/bot")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{root}/bot123456789:wrong-token/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with http.post(f"{emulator.base_url}{emulator.token}/sendInvoices") as response:
            assert response.status == 404
            assert (await response.json())["description"] == "Not Found"
        # A JSON body, a chat_id given as a string and a method name in another case.
        url = f"{emulator.base_url}{emulator.token}/SENDMESSAGE"
        async with http.post(url, json={"chat_id": str(BUYER_ID), "text": "hi"}) as response:
            assert response.status == 200
            assert (await response.json())["result"]["chat"]["id"] == BUYER_ID
        async with http.get(f"{emulator.base_url}{emulator.token}/getMe?x=1") as response:
            assert (await response.json())["result"]["username"] == "checkout_test_bot"
    [call] = emulator.calls_to("sendMessage")
    assert call.params == {"chat_id": BUYER_ID, "text": "hi"}


# -- updates -----------------------------------------------------------------------------------


async def test_long_poll_returns_a_queued_update_at_once(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    buyer = emulator.user(BUYER_ID, "Ada", username="ada")
    sent = await emulator.send_text(buyer, "/start abc")

    [update] = await asyncio.wait_for(bot.get_updates(timeout=30), 2)

    assert update.update_id == sent["update_id"]
    assert update.message is not None
    assert update.message.text == "/start abc"
    assert update.message.chat.id == BUYER_ID
    assert update.message.from_user is not None
    assert update.message.from_user.username == "ada"
    [entity] = update.message.entities
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 6)


async def test_long_poll_wakes_up_when_an_update_arrives(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await emulator.wait_until(lambda: in_flight(emulator, "getUpdates"))

    await emulator.send_text(emulator.user(BUYER_ID), "/shop")

    [update] = await asyncio.wait_for(poll, 2)
    assert update.message is not None
    assert update.message.text == "/shop"


async def test_an_offset_confirms_earlier_updates(bot: Bot, emulator: TelegramEmulator) -> None:
    buyer = emulator.user(BUYER_ID)
    first = await emulator.send_text(buyer, "one")
    second = await emulator.send_text(buyer, "two")

    updates = await bot.get_updates(offset=first["update_id"] + 1, timeout=0)
    assert [u.update_id for u in updates] == [second["update_id"]]
    assert await bot.get_updates(offset=second["update_id"] + 1, timeout=0) == ()


async def test_a_second_poller_terminates_the_first(bot: Bot, emulator: TelegramEmulator) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await emulator.wait_until(lambda: in_flight(emulator, "getUpdates"))

    async with bot_for(emulator) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 2)


async def test_allowed_updates_decide_which_updates_are_created(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    await emulator.send_text(emulator.user(BUYER_ID), "/start")  # not wanted: never queued
    assert await bot.get_updates(timeout=0) == ()

    await bot.get_updates(timeout=0, allowed_updates=[])  # back to the default types
    await emulator.push_update({"chat_member": {"x": 1}})  # opt-in only: never queued
    pushed = await emulator.push_update({"future_update": {"x": 1}})
    [update] = await bot.get_updates(timeout=0)
    assert update.update_id == pushed["update_id"]
    assert update.api_kwargs == {"future_update": {"x": 1}}


async def test_set_webhook_ends_a_pending_poll(bot: Bot, emulator: TelegramEmulator) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await emulator.wait_until(lambda: in_flight(emulator, "getUpdates"))

    async with bot_for(emulator) as other:
        await other.set_webhook("https://shop.example/telegram/webhook")
    with pytest.raises(Conflict, match="terminated by setWebhook request"):
        await asyncio.wait_for(poll, 2)


async def test_a_polling_application_talks_to_the_emulator(emulator: TelegramEmulator) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text("Pick one", reply_markup=buy_keyboard())

    async def buy(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer()
        await update.callback_query.edit_message_text("Creating your link…")

    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(emulator.token)
        .base_url(emulator.base_url)
        .base_file_url(emulator.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(buy))
    buyer = emulator.user(BUYER_ID)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=10)
        await emulator.send_text(buyer, "/start")
        [sent] = await emulator.wait_for("sendMessage")
        await emulator.tap(buyer, sent.response["result"], "buy:forest-hiker")
        await emulator.wait_for("editMessageText")
        await app.updater.stop()
        await app.stop()

    [shown] = emulator.messages_to(BUYER_ID)
    assert shown["text"] == "Creating your link…"
    assert [c.status for c in emulator.calls_to("answerCallbackQuery")] == [200]
    assert emulator.calls_to("getUpdates")[-1].params["timeout"] == 0  # PTB's last confirm


# -- sending messages --------------------------------------------------------------------------


async def test_send_message_answers_with_a_message(bot: Bot, emulator: TelegramEmulator) -> None:
    message = await bot.send_message(
        BUYER_ID,
        "<b>Forest Hiker</b> &amp; friends",
        parse_mode=ParseMode.HTML,
        reply_markup=buy_keyboard(),
    )

    assert message.text == "Forest Hiker & friends"
    [bold] = message.entities
    assert (bold.type, bold.offset, bold.length) == ("bold", 0, 12)
    assert message.chat.id == BUYER_ID
    assert message.from_user is not None
    assert message.from_user.id == bot.id
    assert message.reply_markup == buy_keyboard()
    [call] = emulator.calls_to("sendMessage")
    assert call.params["chat_id"] == BUYER_ID  # decoded from the form's string
    assert call.params["reply_markup"] == buy_keyboard().to_dict()  # decoded from JSON
    [stored] = emulator.messages_to(BUYER_ID)
    assert stored["message_id"] == message.message_id


async def test_an_unknown_chat_is_not_found(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(999, "hello")


async def test_callback_data_is_at_most_64_bytes(bot: Bot, emulator: TelegramEmulator) -> None:
    await bot.send_message(BUYER_ID, "ok", reply_markup=buy_keyboard("é" * 32))  # 64 bytes

    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(BUYER_ID, "too long", reply_markup=buy_keyboard("x" * 65))

    assert [call.status for call in emulator.calls_to("sendMessage")] == [200, 400]
    assert len(emulator.messages_to(BUYER_ID)) == 1


async def test_a_button_url_must_be_http_or_tg(bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Pay", url="ftp://pay.example")]])
    with pytest.raises(BadRequest, match=r"(?i)unsupported url protocol"):
        await bot.send_message(BUYER_ID, "pay", reply_markup=markup)


async def test_text_is_at_most_4096_characters(bot: Bot) -> None:
    await bot.send_message(BUYER_ID, "x" * 4096)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(BUYER_ID, "x" * 4097)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(BUYER_ID, "  ")


@pytest.mark.parametrize(
    ("text", "parse_mode", "error"),
    [
        ("<b>unclosed", ParseMode.HTML, "Can't find end tag"),
        ("<b>x</i>", ParseMode.HTML, "Unmatched end tag"),
        ("<br/>", ParseMode.HTML, "Unsupported start tag"),
        ("Total: 3.50", ParseMode.MARKDOWN_V2, "reserved and must be escaped"),
        ("*bold", ParseMode.MARKDOWN_V2, "Can't find end of bold entity"),
        ("hi @a_user", ParseMode.MARKDOWN, "Can't find end of the entity"),
    ],
)
async def test_bad_markup_cannot_be_parsed(
    bot: Bot, text: str, parse_mode: str, error: str
) -> None:
    with pytest.raises(BadRequest, match=f"(?i){error}"):
        await bot.send_message(BUYER_ID, text, parse_mode=parse_mode)


async def test_markdown_v2_is_parsed_into_entities(bot: Bot) -> None:
    message = await bot.send_message(
        BUYER_ID, r"*Total:* 3\.50 €, [pay](https://checkout.stripe.com/x)", ParseMode.MARKDOWN_V2
    )
    assert message.text == "Total: 3.50 €, pay"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 6),
        ("text_link", 15, 3),
    ]


async def test_flood_limits_surface_as_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # RetryAfter.retry_after as a timedelta
    limits = RateLimits(per_chat_per_second=0.5, per_chat_burst=1)
    async with TelegramEmulator(rate_limits=limits) as emulator, bot_for(emulator) as bot:
        emulator.user(BUYER_ID)
        await bot.send_message(BUYER_ID, "first")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(BUYER_ID, "second")

    assert caught.value.retry_after == dtm.timedelta(seconds=2)
    assert emulator.too_many_requests == 1
    refused = emulator.calls_to("sendMessage")[1]
    assert refused.status == 429
    assert refused.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 2",
        "parameters": {"retry_after": 2},
    }


async def test_telegrams_flood_limits_apply_when_asked_for_and_only_then(bot: Bot) -> None:
    """Off by default, so that tests wait for the bot and not for Telegram's pace; with
    TELEGRAM_LIMITS a chat takes a burst of five, then one message a second."""
    for number in range(10):
        await bot.send_message(BUYER_ID, f"unlimited {number}")
    async with (
        TelegramEmulator(rate_limits=TELEGRAM_LIMITS) as limited,
        bot_for(limited) as limited_bot,
    ):
        limited.user(BUYER_ID)
        for number in range(5):
            await limited_bot.send_message(BUYER_ID, f"burst {number}")
        with pytest.raises(RetryAfter) as caught:
            await limited_bot.send_message(BUYER_ID, "one too many")
    assert caught.value.retry_after == 1
    assert limited.too_many_requests == 1


async def test_a_user_who_blocked_the_bot_is_forbidden(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    emulator.block(BUYER_ID)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(BUYER_ID, "your receipt")
    await emulator.send_text(emulator.user(BUYER_ID), "/start")  # writing unblocks the bot
    await bot.send_message(BUYER_ID, "welcome back")


async def test_an_outage_is_a_network_error(bot: Bot, emulator: TelegramEmulator) -> None:
    emulator.outage = True
    with pytest.raises(NetworkError) as caught:
        await bot.send_message(BUYER_ID, "hello")
    assert type(caught.value) is NetworkError
    assert "Bad Gateway" in str(caught.value)

    emulator.outage = False
    await bot.send_message(BUYER_ID, "hello")
    assert [call.status for call in emulator.calls_to("sendMessage")] == [502, 200]


async def test_a_refused_token_is_unauthorized_on_every_method_until_accepted_again(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    emulator.token_refused = True
    for call in (bot.get_me(), bot.send_message(BUYER_ID, "hello"), bot.get_updates(timeout=0)):
        with pytest.raises(InvalidToken, match="Unauthorized"):
            await call
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{emulator.base_url}{emulator.token}/sendInvoices") as response,
    ):
        assert (response.status, (await response.json())["description"]) == (401, "Unauthorized")

    emulator.token_refused = False
    await bot.send_message(BUYER_ID, "hello")
    assert [call.status for call in emulator.calls_to("sendMessage")] == [401, 200]


# -- editing and callback queries --------------------------------------------------------------


async def test_an_edit_that_changes_nothing_is_refused(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    message = await bot.send_message(BUYER_ID, "Pick one", reply_markup=buy_keyboard())

    with pytest.raises(BadRequest, match="Message is not modified"):
        await message.edit_text("Pick one", reply_markup=buy_keyboard())

    edited = await message.edit_text("Creating your checkout link…")
    assert isinstance(edited, Message)
    assert edited.edit_date is not None
    [stored] = emulator.messages_to(BUYER_ID)
    assert stored["text"] == "Creating your checkout link…"
    assert "reply_markup" not in stored  # an edit without reply_markup drops the keyboard


async def test_editing_an_unknown_message_is_refused(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("new", chat_id=BUYER_ID, message_id=1234)


async def test_a_callback_query_is_answered_once(bot: Bot, emulator: TelegramEmulator) -> None:
    message = await bot.send_message(BUYER_ID, "Pick one", reply_markup=buy_keyboard())
    buyer = emulator.user(BUYER_ID)
    [shown] = emulator.messages_to(BUYER_ID)
    with pytest.raises(ValueError, match="no button"):
        await emulator.tap(buyer, shown, "buy:something-else")

    await emulator.tap(buyer, shown, "buy:forest-hiker")
    [update] = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None
    assert query.data == "buy:forest-hiker"
    assert query.message is not None
    assert query.message.message_id == message.message_id

    assert await query.answer("Creating your link…") is True
    with pytest.raises(BadRequest, match="Query is too old"):
        await query.answer()


# -- documents ---------------------------------------------------------------------------------


async def test_a_sent_document_keeps_its_bytes(bot: Bot, emulator: TelegramEmulator) -> None:
    csv = b"order,amount\nK7Q2,397.00\n"

    message = await bot.send_document(BUYER_ID, csv, filename="sales.csv", caption="Sales")

    assert message.document is not None
    assert message.document.file_name == "sales.csv"
    assert message.document.file_size == len(csv)
    assert message.caption == "Sales"
    assert emulator.documents_to(BUYER_ID) == [("sales.csv", csv)]
    [call] = emulator.calls_to("sendDocument")
    assert isinstance(call.params["document"], UploadedFile)
    file = await bot.get_file(message.document.file_id)
    assert await file.download_as_bytearray() == csv


async def test_a_sent_photo_comes_back_in_scaled_sizes(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    image = png(1000, 500)

    message = await bot.send_photo(BUYER_ID, image, caption="<b>Chart</b>", parse_mode="HTML")

    assert [(size.width, size.height) for size in message.photo] == [
        (90, 45),
        (320, 160),
        (800, 400),
        (1000, 500),
    ]
    assert message.caption == "Chart"
    assert emulator.photos_to(BUYER_ID) == [image]
    again = await bot.send_photo(BUYER_ID, message.photo[-1].file_id)
    assert again.photo[-1].width == 1000
    assert emulator.photos_to(BUYER_ID) == [image, image]


async def test_a_photo_url_must_be_one_telegram_can_fetch(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    url = "https://shop.example/forest-hiker.png"
    with pytest.raises(BadRequest, match="Failed to get http url content"):
        await bot.send_photo(BUYER_ID, url)
    emulator.web_files[url] = png(64, 64)

    message = await bot.send_photo(BUYER_ID, url)

    assert message.photo[-1].width == 64
    assert emulator.photos_to(BUYER_ID) == [png(64, 64)]


async def test_a_photo_that_is_not_an_image_is_refused(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(BUYER_ID, b"not an image at all")
    assert emulator.photos_to(BUYER_ID) == []
    assert emulator.messages_to(BUYER_ID) == []


# -- commands ----------------------------------------------------------------------------------


async def test_commands_are_stored_per_scope(bot: Bot, emulator: TelegramEmulator) -> None:
    buyer_commands = [BotCommand("start", "Open the shop"), BotCommand("orders", "Your orders")]
    await bot.set_my_commands(buyer_commands)
    await bot.set_my_commands(
        [BotCommand("stats", "Sales figures")], scope=BotCommandScopeChat(BUYER_ID)
    )

    assert emulator.commands() == [c.to_dict() for c in buyer_commands]
    assert emulator.commands({"type": "chat", "chat_id": BUYER_ID}) == [
        {"command": "stats", "description": "Sales figures"}
    ]
    assert await bot.get_my_commands() == tuple(buyer_commands)


async def test_a_users_menu_is_the_first_set_in_telegrams_order(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    """Chat + language, chat, all private chats (+ language), default (+ language)."""
    english = emulator.user(BUYER_ID, "Ada", language_code="en")
    french = emulator.user(43, "Zoé", language_code="fr-BE")
    assert emulator.menu_of(english) == []

    await bot.set_my_commands([BotCommand("start", "Start")])
    await bot.set_my_commands([BotCommand("start", "Démarrer")], language_code="fr")
    assert [c["description"] for c in emulator.menu_of(english)] == ["Start"]
    assert [c["description"] for c in emulator.menu_of(french)] == ["Démarrer"]

    await bot.set_my_commands([BotCommand("shop", "Shop")], scope=BotCommandScopeAllPrivateChats())
    assert [c["command"] for c in emulator.menu_of(french)] == ["shop"], (
        "before the default in any language"
    )

    await bot.set_my_commands([BotCommand("stats", "Stats")], scope=BotCommandScopeChat(43))
    await bot.set_my_commands(
        [BotCommand("stats", "Chiffres")], scope=BotCommandScopeChat(43), language_code="fr"
    )
    assert [c["description"] for c in emulator.menu_of(french)] == ["Chiffres"]
    assert [c["command"] for c in emulator.menu_of(english)] == ["shop"]


async def test_commands_for_an_unknown_chat_or_with_bad_names_are_refused(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.set_my_commands([BotCommand("stats", "Sales")], scope=BotCommandScopeChat(777))
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Stats", "Sales")])


# -- webhooks ----------------------------------------------------------------------------------


@dataclass
class Receiver:
    """A tiny webhook endpoint that answers with the queued statuses, then 200."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        self.received.append((await request.json(), secret))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/telegram/webhook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/telegram/webhook"
    yield receiver
    await runner.cleanup()


async def test_a_webhook_receives_updates_with_the_secret(
    bot: Bot, emulator: TelegramEmulator, receiver: Receiver
) -> None:
    queued = await emulator.send_text(emulator.user(BUYER_ID), "/start")
    assert await bot.set_webhook(receiver.url, secret_token="s3cr3t-Token_1")
    later = await emulator.send_text(emulator.user(BUYER_ID), "/shop")

    await emulator.wait_until(lambda: len(emulator.webhook_deliveries) == 2)

    assert receiver.received == [(queued, "s3cr3t-Token_1"), (later, "s3cr3t-Token_1")]
    assert [d.status for d in emulator.webhook_deliveries] == [200, 200]
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == (receiver.url, 0)
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()


async def test_a_failed_webhook_delivery_is_retried(
    bot: Bot, emulator: TelegramEmulator, receiver: Receiver
) -> None:
    emulator.webhook_retry_delays = (0.01, 0.01)
    receiver.statuses = [500]
    await bot.set_webhook(receiver.url)
    update = await emulator.send_text(emulator.user(BUYER_ID), "/start")

    await emulator.wait_until(lambda: len(emulator.webhook_deliveries) == 2)

    assert [d.status for d in emulator.webhook_deliveries] == [500, 200]
    assert [body for body, _ in receiver.received] == [update, update]
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"


async def test_webhook_settings_are_checked(bot: Bot, receiver: Receiver) -> None:
    with pytest.raises(BadRequest, match=r"(?i)secret token contains unallowed characters"):
        await bot.set_webhook(receiver.url, secret_token="not allowed!")
    with pytest.raises(BadRequest, match=r"(?i)an https url must be provided"):
        await bot.set_webhook("http://shop.example/telegram/webhook")
    with pytest.raises(BadRequest, match="ports 80, 88, 443 or 8443"):
        await bot.set_webhook("https://shop.example:8080/telegram/webhook")


async def test_wait_for_explains_what_it_saw(bot: Bot, emulator: TelegramEmulator) -> None:
    await bot.send_message(BUYER_ID, "hello")

    [call] = await emulator.wait_for("sendMessage", lambda c: c.params["text"] == "hello")
    assert isinstance(call, ApiCall)
    with pytest.raises(TimeoutError, match=r"(?s)sendDocument.*sendMessage -> 200"):
        await emulator.wait_for("sendDocument", timeout=0.05)


async def test_a_sent_file_can_be_read_back_by_its_file_id(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    image = png(1000, 500)
    photo = await bot.send_photo(BUYER_ID, image)
    document = await bot.send_document(BUYER_ID, b"id,total\n1,397\n", filename="sales.csv")

    smallest, largest = (emulator.file_content(size.file_id) for size in photo.photo[::3])
    assert smallest is not None and smallest[2] == image
    assert largest == smallest
    assert document.document is not None
    name, _, data = emulator.file_content(document.document.file_id) or ("", "", b"")
    assert (name, data) == ("sales.csv", b"id,total\n1,397\n")
    assert emulator.file_content("AgACAgIAAxkBAAIC-unknown") is None


async def test_the_revision_moves_with_every_change_a_viewer_would_draw(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    before = emulator.revision
    await bot.send_message(BUYER_ID, "hello")
    after_send = emulator.revision
    await emulator.send_text(emulator.user(BUYER_ID, "Ada"), "/start")

    assert before < after_send < emulator.revision
