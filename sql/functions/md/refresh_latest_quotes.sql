-- After each statement that inserts quotes (a COPY batch from the ingestor), move md.latest_quotes
-- forward in one statement over the batch's transition table. A quote older than the one already
-- kept never replaces it, so late and out-of-order arrivals are harmless.
create or replace function md.refresh_latest_quotes()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    insert into md.latest_quotes as l (
        symbol, quote_id, bid_price, ask_price, bid_size, ask_size, bid_exchange, ask_exchange,
        conditions, tape, quote_time
    )
    select
        n.symbol, n.quote_id, n.bid_price, n.ask_price, n.bid_size, n.ask_size, n.bid_exchange,
        n.ask_exchange, n.conditions, n.tape, n.quote_time
    from new_quotes as n
    -- per symbol the newest quote (the highest id among those of the latest time): hash aggregates,
    -- cheaper than sorting the batch's whole rows
    inner join (
        select k.symbol, max(k.quote_id) as quote_id
        from new_quotes as k
        inner join (
            select t.symbol, max(t.quote_time) as quote_time from new_quotes as t group by t.symbol
        ) as newest on k.symbol = newest.symbol and k.quote_time = newest.quote_time
        group by k.symbol
    ) as w on n.symbol = w.symbol and n.quote_id = w.quote_id
    on conflict (symbol) do update
    set quote_id = excluded.quote_id,
        bid_price = excluded.bid_price,
        ask_price = excluded.ask_price,
        bid_size = excluded.bid_size,
        ask_size = excluded.ask_size,
        bid_exchange = excluded.bid_exchange,
        ask_exchange = excluded.ask_exchange,
        conditions = excluded.conditions,
        tape = excluded.tape,
        quote_time = excluded.quote_time
    where (excluded.quote_time, excluded.quote_id) > (l.quote_time, l.quote_id);
    return null;
end;
$$;
comment on function md.refresh_latest_quotes() is
'Statement trigger on md.quotes: set-based upsert of the newest quote per symbol of the inserted batch.';

drop trigger if exists quotes_refresh_latest on md.quotes;
create trigger quotes_refresh_latest
after insert on md.quotes
referencing new table as new_quotes
for each statement
execute function md.refresh_latest_quotes();
