-- The chats Telegram shows the admins' command menu in: a chat-scoped menu stays at Telegram
-- until it is taken back, so an id that leaves ADMIN_IDS is found here at the next start.
CREATE TABLE admin_menus (
    chat_id INTEGER PRIMARY KEY
);
