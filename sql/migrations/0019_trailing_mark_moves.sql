-- 0019 trailing mark moves: the engine moves a live trailing stop's mark on its mbt.trailing_marks row
-- alone, and the order takes the mark it stands at when it leaves the book (triggered, canceled, expired,
-- replaced); moved_at says when the mark last moved (sql/schema/46_trailing_marks.sql).
alter table mbt.trailing_marks add column moved_at timestamptz;
comment on column mbt.trailing_marks.moved_at is 'When the mark last moved (the quote''s time); null: not since submission.';
comment on table mbt.trailing_marks is $$The mark and stop of each untriggered resting trailing stop: the engine moves
them here alone while the stop lives, and the order (mbt.orders.hwm) takes them when it leaves the book. Indexed so that
a batch of quotes reads only the stops it can move or trigger.$$;
