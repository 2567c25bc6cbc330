-- What the ingestor streams: every symbol with an open order or a non-zero position, plus its
-- watch-list. It reads the set with mbt.ingest_wanted_symbols (at start and on a periodic
-- reconcile) and hears about new symbols at once through NOTIFY mbt_ingest_symbols, sent by the
-- statement triggers below. They are set-based (one NOTIFY per statement, over its transition
-- table) and notify only about symbols not in md.ingest_subscriptions: an order on a symbol that is
-- already streamed, the usual case, sends nothing, so it takes no part in NOTIFY's commit-time lock.
create or replace function mbt.ingest_wanted_symbols(p_watchlist text[] default '{}')
returns table (symbol text)
language sql
stable
security definer
set search_path = ''
as $$
    select o.symbol from mbt.orders as o
    where o.status in ('new', 'partially_filled', 'accepted', 'held', 'pending_new')
    union
    select p.symbol from mbt.positions as p where p.qty <> 0
    union
    select upper(w.symbol) from unnest(p_watchlist) as w (symbol) where w.symbol <> ''
$$;
comment on function mbt.ingest_wanted_symbols(text[]) is
'The symbols the ingestor streams: open orders, non-zero positions and the watch-list p_watchlist.';

-- p_symbols (a statement's new symbols the ingestor does not stream yet, as the triggers below find them)
-- as a NOTIFY payload, comma-separated; '*' (read the whole set again) when they do not fit a payload.
create or replace function mbt.ingest_notify_symbols(p_symbols text[])
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_payload text := array_to_string(p_symbols, ',');
begin
    if v_payload <> '' then
        perform pg_notify('mbt_ingest_symbols', case when length(v_payload) > 7000 then '*' else v_payload end);
    end if;
end;
$$;
comment on function mbt.ingest_notify_symbols(text[]) is
'NOTIFY mbt_ingest_symbols with p_symbols, symbols the ingestor does not stream yet (''*'' when too many).';

create or replace function mbt.ingest_notify_new_orders()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_symbols text[];
begin
    -- the usual case, a symbol already streamed, ends here: one query, no call
    v_symbols := array(
        select distinct n.symbol from new_orders as n
        where n.status in ('new', 'partially_filled', 'accepted', 'held', 'pending_new')
            and not exists (select from md.ingest_subscriptions as s where s.symbol = n.symbol)
    );
    if cardinality(v_symbols) > 0 then
        perform mbt.ingest_notify_symbols(v_symbols);
    end if;
    return null;
end;
$$;
comment on function mbt.ingest_notify_new_orders() is
'Statement trigger on mbt.orders: tells the ingestor about the symbols of new open orders it does not stream yet.';

drop trigger if exists orders_notify_ingest on mbt.orders;
create trigger orders_notify_ingest
after insert on mbt.orders
referencing new table as new_orders
for each statement
execute function mbt.ingest_notify_new_orders();

create or replace function mbt.ingest_notify_new_positions()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_symbols text[];
begin
    v_symbols := array(
        select distinct n.symbol from new_positions as n
        where n.qty <> 0 and not exists (select from md.ingest_subscriptions as s where s.symbol = n.symbol)
    );
    if cardinality(v_symbols) > 0 then
        perform mbt.ingest_notify_symbols(v_symbols);
    end if;
    return null;
end;
$$;
comment on function mbt.ingest_notify_new_positions() is
'Statement trigger on mbt.positions: tells the ingestor about the symbols of new positions it does not stream yet.';

drop trigger if exists positions_notify_ingest on mbt.positions;
create trigger positions_notify_ingest
after insert on mbt.positions
referencing new table as new_positions
for each statement
execute function mbt.ingest_notify_new_positions();

-- The ingestor records what it streams after each change (one ingestor per database).
create or replace function mbt.ingest_set_subscriptions(p_symbols text[])
returns void
language sql
volatile
security definer
set search_path = ''
as $$
    delete from md.ingest_subscriptions as s where s.symbol <> all(p_symbols);
    insert into md.ingest_subscriptions (symbol)
    select distinct n.symbol from unnest(p_symbols) as n (symbol)
    on conflict (symbol) do nothing;
$$;
comment on function mbt.ingest_set_subscriptions(text[]) is
'Replace md.ingest_subscriptions with p_symbols, the symbols the ingestor streams now.';
