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
    select distinct on (n.symbol)
        n.symbol, n.quote_id, n.bid_price, n.ask_price, n.bid_size, n.ask_size, n.bid_exchange,
        n.ask_exchange, n.conditions, n.tape, n.quote_time
    from new_quotes as n
    order by n.symbol asc, n.quote_time desc, n.quote_id desc
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
