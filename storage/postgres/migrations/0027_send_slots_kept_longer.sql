-- Taking a send slot keeps ten seconds of the slots and chats' turns that have passed, not
-- only the slot under way. A replica counts its first slot from its clock, then waits for the
-- advisory lock; meanwhile a replica that came later dropped the slots before its own first
-- one. The first then found them free and took one that had been given and sent: at the start
-- of a burst with three replicas, 35 to 39 messages went in one second. SQLite's one process
-- never waits between its clock and its slot (storage/send_slots.py's SlotBook).
CREATE OR REPLACE FUNCTION reserve_send_slot(
    lock_key bigint,
    chat bigint,
    first_slot bigint,
    slots_per_second double precision,
    capped boolean,
    slots_per_chat bigint
) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    since bigint := round((first_slot - 1) * 1000000 / slots_per_second)::bigint - 10000000;
    chat_from bigint;
    slot bigint;
    from_micros bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    -- The slot under way is kept (the bot's answers may still take it), and ten seconds before
    -- it: a caller whose first slot was counted before it waited for the lock looks there.
    DELETE FROM outbox_pace_slots WHERE at < since;
    DELETE FROM outbox_pace_chats WHERE free_from <= since;
    IF chat IS NOT NULL THEN
        SELECT round(free_from * slots_per_second / 1000000)::bigint INTO chat_from
            FROM outbox_pace_chats WHERE chat_id = chat;
    END IF;
    slot := greatest(first_slot, coalesce(chat_from, first_slot));
    IF capped THEN
        from_micros := round(slot * 1000000 / slots_per_second)::bigint;
        -- Of the taken slots from there on plus one, at least one number is free.
        SELECT min(candidate) INTO slot
            FROM generate_series(
                slot, slot + (SELECT count(*) FROM outbox_pace_slots WHERE at >= from_micros)
            ) AS candidate
            WHERE candidate NOT IN (
                SELECT round(at * slots_per_second / 1000000)::bigint
                FROM outbox_pace_slots WHERE at >= from_micros
            );
        INSERT INTO outbox_pace_slots (at)
            VALUES (round(slot * 1000000 / slots_per_second)::bigint) ON CONFLICT DO NOTHING;
    END IF;
    IF chat IS NOT NULL THEN
        INSERT INTO outbox_pace_chats (chat_id, free_from)
            VALUES (chat, round((slot + slots_per_chat) * 1000000 / slots_per_second)::bigint)
            ON CONFLICT (chat_id) DO UPDATE SET free_from = excluded.free_from;
    END IF;
    RETURN slot;
END;
$$;
