-- The full-text index of inbound messages is filled inside SQLite as each
-- message is inserted, instead of by a statement of its own from the
-- projector: one round trip less per projected message.
CREATE TRIGGER messages_fill_search AFTER INSERT ON messages
BEGIN
    INSERT INTO message_search (rowid, text, phone) VALUES (new.id, new.text, new.phone);
END;
