"""The shop owner's console: admin commands and their buttons, for the ids in ADMIN_IDS."""
