-- The marks of the live trailing stops (mbt.trailing_marks): which of them a batch of quotes can move
-- or trigger, and the statement triggers on mbt.orders that keep them as the orders say.

-- The live trailing stops of a symbol, riders apart (mbt.trailing_riders_in_reach), that quotes with asks
-- in [p_min_ask, p_max_ask] and bids in [p_min_bid, p_max_bid] can move or trigger. A sell stop's mark
-- moves only on a bid above it (hwm < p_max_bid); while its mark stands, its stop stands, and it triggers
-- only on a bid at or under that stop (stop >= p_min_bid); so one with neither, whatever the quotes'
-- order, keeps its mark and stop through every quote of the batch (the engine reads the rest quote by
-- quote, after its own filters, which only drop quotes). A buy stop mirrored: ask under its mark, or ask
-- at or above its stop. One index range per side and condition (disjoint, so each stop comes once); stops
-- without a mark always come (the engine starts their mark). An SQL function that the planner inlines
-- into the fill engine.
create or replace function mbt.trailing_marks_in_reach(
    p_symbol text, p_min_ask numeric, p_max_ask numeric, p_min_bid numeric, p_max_bid numeric
)
returns setof mbt.trailing_marks
language sql
stable
as $$
    select m.* from mbt.trailing_marks as m
    where m.symbol = p_symbol and m.side = 'sell' and not m.rides and m.hwm < p_max_bid
    union all
    select m.* from mbt.trailing_marks as m
    where m.symbol = p_symbol and m.side = 'sell' and not m.rides and m.stop_price >= p_min_bid and m.hwm >= p_max_bid
    union all
    select m.* from mbt.trailing_marks as m
    where m.symbol = p_symbol and m.side = 'buy' and not m.rides and m.hwm > p_min_ask
    union all
    select m.* from mbt.trailing_marks as m
    where m.symbol = p_symbol and m.side = 'buy' and not m.rides and m.stop_price <= p_max_ask and m.hwm <= p_min_ask
    union all
    select m.* from mbt.trailing_marks as m
    where m.symbol = p_symbol and not m.rides and m.hwm is null
$$;
comment on function mbt.trailing_marks_in_reach(text, numeric, numeric, numeric, numeric) is $$The live trailing
stops of a symbol, riders apart, whose mark or trigger quotes with asks in [p_min_ask, p_max_ask] and bids in
[p_min_bid, p_max_bid] (USD) can reach: the others neither move nor trigger on them.$$;

-- The shared marks of a symbol's riders (mbt.trailing_extremes, the sides that have riders), with what
-- quotes with asks in [p_min_ask, p_max_ask] and bids in [p_min_bid, p_max_bid] up to p_last_time do to
-- them: whether they may move the mark (a bid above a sell side's, an ask under a buy side's), and the
-- largest trail, in dollars and in percent, that they may trigger. A sell rider's mark after any quote is
-- at most M = greatest(hwm, p_max_bid), its stop at most M less its trail plus half a cent (rounding),
-- and it triggers on a bid at or under its stop, at least p_min_bid: so one whose trail exceeds
-- M - p_min_bid + 0.01 dollars, or 1 - (p_min_bid - 0.01) / M as a fraction, cannot trigger. A buy rider
-- mirrored, from m = least(hwm, p_min_ask) and p_max_ask. riders_in_reach says whether the side's bounds
-- (its smallest trails, its earliest expiry) let any rider trigger or expire on these quotes.
create or replace function mbt.trailing_extremes_in_reach(
    p_symbol text, p_min_ask numeric, p_max_ask numeric, p_min_bid numeric, p_max_bid numeric,
    p_last_time timestamptz
)
returns table (
    symbol text, side mbt.order_side, hwm numeric, may_move boolean, trail_price_reach numeric,
    trail_percent_reach numeric, riders_in_reach boolean
)
language sql
stable
as $$
    select
        x.symbol, x.side, x.hwm, r.may_move, r.trail_price_reach, r.trail_percent_reach,
        coalesce(x.min_trail_price <= r.trail_price_reach, false)
        or coalesce(x.min_trail_percent <= r.trail_percent_reach, false)
        or coalesce(x.min_expires_at <= p_last_time, false)
    from mbt.trailing_extremes as x
    cross join lateral (
        select
            case when x.side = 'sell' then p_max_bid > x.hwm else p_min_ask < x.hwm end as may_move,
            case when x.side = 'sell' then greatest(x.hwm, p_max_bid) - p_min_bid
                else p_max_ask - least(x.hwm, p_min_ask) end + 0.01 as trail_price_reach,
            -- (a zero ask, which never fills, reaches every trail: the quote trigger sees unusable quotes too)
            100 * case when x.side = 'sell' then 1 - (p_min_bid - 0.01) / greatest(x.hwm, p_max_bid)
                else coalesce((p_max_ask + 0.01) / nullif(least(x.hwm, p_min_ask), 0), 'infinity') - 1
            end as trail_percent_reach
    ) as r
    where x.symbol = p_symbol and x.hwm is not null
$$;
comment on function mbt.trailing_extremes_in_reach(text, numeric, numeric, numeric, numeric, timestamptz) is $$The
shared marks of a symbol's riding trailing stops, with whether quotes with asks in [p_min_ask, p_max_ask] and bids in
[p_min_bid, p_max_bid] (USD) up to p_last_time may move them, and the largest trail (USD, percent) they may trigger.$$;

-- The riders of a symbol and side that a batch may trigger (a trail within the reach
-- mbt.trailing_extremes_in_reach gives) or that expire by its last quote: one index range each, disjoint.
create or replace function mbt.trailing_riders_in_reach(
    p_symbol text, p_side mbt.order_side, p_trail_price_reach numeric, p_trail_percent_reach numeric,
    p_last_time timestamptz
)
returns setof mbt.trailing_marks
language sql
stable
as $$
    select m.* from mbt.trailing_marks as m
    where m.symbol = p_symbol and m.side = p_side and m.rides and m.trail_price <= p_trail_price_reach
    union all
    select m.* from mbt.trailing_marks as m
    where m.symbol = p_symbol and m.side = p_side and m.rides and m.trail_percent <= p_trail_percent_reach
    union all
    select m.* from mbt.trailing_marks as m
    where m.symbol = p_symbol and m.side = p_side and m.rides and m.expires_at <= p_last_time
        and not coalesce(m.trail_price <= p_trail_price_reach, m.trail_percent <= p_trail_percent_reach, false)
$$;
comment on function mbt.trailing_riders_in_reach(text, mbt.order_side, numeric, numeric, timestamptz) is $$The
riding trailing stops of a symbol and side with a trail within the reach given (USD, percent) or an expiry by
p_last_time: the riders a batch may trigger or outlive.$$;

-- After every insert or update of orders (statement triggers, with the rows as they are now): a live
-- trailing stop (untriggered, resting) has its mark row, with its order's hwm, trail and stop; any other
-- order has none. An update of a live stop carries its current mark (mbt.take_trailing_mark, before it),
-- so the row it leaves is the row it found unless the update set another mark (a replay's reset).
-- Statements that touch no trailing stop cost a scan of their transition table.
create or replace function mbt.sync_trailing_marks()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if not exists (select from new_orders as n where n.order_type = 'trailing_stop') then
        return null;
    end if;
    if tg_op = 'UPDATE' then
        delete from mbt.trailing_marks as m
        using new_orders as n
        where n.order_type = 'trailing_stop' and m.account_id = n.account_id and m.order_id = n.order_id
            and (n.status not in ('new', 'partially_filled', 'accepted') or n.stop_triggered_at is not null);
    end if;
    insert into mbt.trailing_marks as m (
        account_id, order_id, symbol, side, hwm, stop_price, trail_price, trail_percent, submitted_at, expires_at
    )
    select
        n.account_id, n.order_id, n.symbol, n.side, n.hwm, mbt.trailing_stop_price(n.side, n.hwm, n.trail_price,
            n.trail_percent),
        n.trail_price, n.trail_percent, n.submitted_at, n.expires_at
    from new_orders as n
    where n.order_type = 'trailing_stop' and n.status in ('new', 'partially_filled', 'accepted')
        and n.stop_triggered_at is null
    on conflict (account_id, order_id) do update
    set hwm = excluded.hwm, stop_price = excluded.stop_price, trail_price = excluded.trail_price,
        trail_percent = excluded.trail_percent, submitted_at = excluded.submitted_at, expires_at = excluded.expires_at
    where (m.hwm, m.stop_price, m.trail_price, m.trail_percent, m.submitted_at, m.expires_at)
        is distinct from (excluded.hwm, excluded.stop_price, excluded.trail_price, excluded.trail_percent,
            excluded.submitted_at, excluded.expires_at);
    return null;
end;
$$;
comment on function mbt.sync_trailing_marks() is
'Statement trigger on mbt.orders: gives each live trailing stop its mbt.trailing_marks row as the order stands, and takes it from any other.';

drop trigger if exists orders_sync_trailing_marks_insert on mbt.orders;
create trigger orders_sync_trailing_marks_insert
after insert on mbt.orders
referencing new table as new_orders
for each statement
execute function mbt.sync_trailing_marks();

drop trigger if exists orders_sync_trailing_marks_update on mbt.orders;
create trigger orders_sync_trailing_marks_update
after update on mbt.orders
referencing new table as new_orders
for each statement
execute function mbt.sync_trailing_marks();

-- Before an update of an untriggered trailing stop, row by row (the WHEN clause keeps
-- every other order's update free of it): the order takes the mark its mark row has reached, when that
-- is beyond the one the update writes (sell: higher, buy: lower). The engine moves a live stop's mark on
-- the mark row alone (mbt.fill_orders); so a cancel, expiry or replace leaves the order with the
-- mark it stood at. The engine's update that triggers a stop writes the mark it triggered at, which stands:
-- the mark rows and shared marks the same statement moves past it are not the order's.
create or replace function mbt.take_trailing_mark()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    new := mbt.order_with_live_mark(new);
    return new;
end;
$$;
comment on function mbt.take_trailing_mark() is
'Row trigger before an update of a live trailing stop: the order takes the mark its mbt.trailing_marks row has reached.';

drop trigger if exists orders_take_trailing_mark on mbt.orders;
create trigger orders_take_trailing_mark
before update on mbt.orders
for each row
when (old.order_type = 'trailing_stop' and old.stop_triggered_at is null and new.stop_triggered_at is null)
execute function mbt.take_trailing_mark();
