-- PostgreSQL's 0022 makes taking a send slot one server-side function. SQLite keeps the slots
-- in the one process's memory (storage/send_slots.py's SlotBook): nothing to change here.
SELECT 1;
