"""The handler groups of python-telegram-bot: which of the rooms' handlers sees an update first.

PTB offers each update to every group in turn, lowest number first, and in each group to the
first handler whose check matches. Each room registers its handlers into the group they belong
to, so no room depends on being registered before another.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application

# Sees every update and answers none (the command menus catch up with a new admin's chat).
WATCH = -1
# The rooms' commands and buttons, each with a name or a callback-data prefix of its own.
ROOMS = 0
# What no room took: buttons this bot never sent, and text that is not a command it knows.
LAST_RESORT = 1


def taken_by_a_room(update: Update, application: Application[Any, Any, Any, Any, Any, Any]) -> bool:
    """Whether a handler of the rooms' group matched this update (PTB runs every group, so the
    last resort must ask)."""
    for handler in application.handlers.get(ROOMS, ()):
        check = handler.check_update(update)
        if check is not None and check is not False:
            return True
    return False
