-- The ingestor's duplicate-free write path, for the quotes that may have arrived twice: a backfill
-- after a reconnect (fetched from the historical API) and the streamed quotes that overlap it in
-- time. Inserts the quotes (given as parallel arrays, one element per quote; conditions as array
-- literals) that are not already stored: an exact duplicate has the same symbol, quote_time, prices,
-- sizes, exchanges, conditions and tape. Idempotent: the same batch twice inserts it once. One
-- statement, so the statement triggers (latest quotes, the fill engine) see the batch whole.
-- The anti-join probes quotes_symbol_time in the partition of each quote's New York day; the
-- caller removes duplicates within the batch. The streamed quotes outside a reconnect's window
-- take the plain COPY path and never come here.
create or replace function md.ingest_insert_new_quotes(
    p_symbol text[],
    p_bid_price numeric[],
    p_ask_price numeric[],
    p_bid_size numeric[],
    p_ask_size numeric[],
    p_bid_exchange text[],
    p_ask_exchange text[],
    p_conditions text[],
    p_tape text[],
    p_quote_time timestamptz[],
    p_received_at timestamptz[]
)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_inserted integer;
begin
    insert into md.quotes (
        symbol, bid_price, ask_price, bid_size, ask_size, bid_exchange, ask_exchange, conditions, tape,
        quote_time, received_at
    )
    select
        n.symbol, n.bid_price, n.ask_price, n.bid_size, n.ask_size, n.bid_exchange, n.ask_exchange,
        n.conditions::text [], n.tape, n.quote_time, n.received_at
    from unnest(
        p_symbol, p_bid_price, p_ask_price, p_bid_size, p_ask_size, p_bid_exchange, p_ask_exchange,
        p_conditions, p_tape, p_quote_time, p_received_at
    ) as n (
        symbol, bid_price, ask_price, bid_size, ask_size, bid_exchange, ask_exchange, conditions, tape,
        quote_time, received_at
    )
    where not exists (
        select from md.quotes as q
        where q.symbol = n.symbol and q.quote_time = n.quote_time
            and q.bid_price = n.bid_price and q.ask_price = n.ask_price
            and q.bid_size = n.bid_size and q.ask_size = n.ask_size
            and q.bid_exchange = n.bid_exchange and q.ask_exchange = n.ask_exchange
            and q.conditions = n.conditions::text [] and q.tape is not distinct from n.tape
    )
    order by n.quote_time;
    get diagnostics v_inserted = row_count;
    return v_inserted;
end;
$$;
comment on function md.ingest_insert_new_quotes(
    text[], numeric[], numeric[], numeric[], numeric[], text[], text[], text[], text[], timestamptz[], timestamptz[]
) is 'Insert the given quotes that are not stored yet (exact duplicates dropped); returns how many were inserted.';
