-- Every batch of quotes inserted into md.quotes (the ingestor's COPY, a test's multi-row INSERT)
-- goes to the fill engine once, as a whole: one statement-level trigger with the batch's
-- transition table, no per-row or per-order trigger. Only the quotes of symbols with an order in
-- reach of the batch's prices (mbt.orders_in_reach), a shared mark of riding trailing stops they may
-- move or whose riders they may trigger (mbt.trailing_extremes_in_reach), or another trailing stop
-- whose mark they may move or that they may trigger (mbt.trailing_marks_in_reach) go: a superset of
-- what the engine can fill or move, its rules decide the rest; a batch that reaches nothing costs its
-- per-symbol price ranges and one index probe per symbol and kind of order or mark. Plain index scans, not
-- bitmap ones (here and in the engine's statement, planned under this setting): an index scan marks
-- the entries of orders filled or canceled since the last vacuum dead and skips them from then on, a
-- bitmap scan visits their heap pages on every batch.
create or replace function mbt.evaluate_orders_on_quotes()
returns trigger
language plpgsql
security definer
set search_path = ''
set enable_bitmapscan = off
as $$
declare
    v_quotes md.quotes[];
begin
    v_quotes := array(
        select n::md.quotes
        from new_quotes as n
        inner join (
            select r.symbol
            from (
                select q.symbol, min(q.ask_price) as min_ask, max(q.ask_price) as max_ask,
                    min(q.bid_price) as min_bid, max(q.bid_price) as max_bid, max(q.quote_time) as last_time
                from new_quotes as q
                group by q.symbol
            ) as r
            where exists (select from mbt.orders_in_reach(r.symbol, r.min_ask, r.max_ask, r.min_bid, r.max_bid))
                or exists (
                    select from mbt.trailing_extremes_in_reach(r.symbol, r.min_ask, r.max_ask, r.min_bid, r.max_bid,
                        r.last_time) as x
                    where x.may_move or x.riders_in_reach
                )
                or exists (select from mbt.trailing_marks_in_reach(r.symbol, r.min_ask, r.max_ask, r.min_bid, r.max_bid))
        ) as s on n.symbol = s.symbol
    );
    if cardinality(v_quotes) > 0 then
        -- one batch at a time, engine-wide: a batch reads and moves shared state (resting orders, the riders'
        -- shared marks) as its snapshot found it, so batches from two connections must not interleave
        perform pg_advisory_xact_lock(hashtext('mbt.fill_orders'));
        perform mbt.fill_orders(v_quotes);
    end if;
    return null;
end;
$$;
comment on function mbt.evaluate_orders_on_quotes() is
'Statement trigger on md.quotes: hands the quotes of the inserted batch that reach an order to mbt.fill_orders.';

drop trigger if exists quotes_evaluate_orders on md.quotes;
create trigger quotes_evaluate_orders
after insert on md.quotes
referencing new table as new_quotes
for each statement
execute function mbt.evaluate_orders_on_quotes();
