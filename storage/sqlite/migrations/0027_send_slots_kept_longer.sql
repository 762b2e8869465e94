-- PostgreSQL's 0027 keeps ten seconds of past send slots for replicas that waited for the
-- lock. SQLite keeps the slots in the one process's memory, with no wait between its clock
-- and its slot (storage/send_slots.py's SlotBook): nothing to change here.
SELECT 1;
