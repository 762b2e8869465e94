"""The parts of the Telegram Bot API emulator; its interface is ``sandbox.telegram_api``."""
