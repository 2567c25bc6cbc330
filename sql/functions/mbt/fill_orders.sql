-- The fill engine. One statement evaluates every resting order on the symbols of a batch of quotes
-- against the whole batch, in time order, and writes the fills, the orders, the positions, the cash
-- and the audit trail together. The quote trigger calls it with the inserted batch; a submission
-- calls it with the latest quote and the new order only, with p_as_of set.
--
-- Rules (shared/DESIGN.md, "The engine's rules"):
--   * a quote that is crossed or locked, has a zero price, arrived later than mbt.quote_staleness()
--     after its time (or, at submission, is older than that at p_as_of), is older than the order,
--     is past the order's expires_at, or is outside the order's sessions (regular hours; also pre-market
--     and after-hours for extended_hours orders) never fills;
--   * buys fill at the ask, sells at the bid; a limit fills when marketable, at the quote (price
--     improvement to the quote); a stop triggers at the first quote whose protected side reaches the
--     stop (buy: ask >= stop; sell: bid <= stop) and then acts as a market order (stop) or a limit
--     order (stop_limit), on that quote and later ones;
--   * opg orders fill only in the first minute of the regular session and cls orders only in its last
--     minute (an approximation of the opening and closing auctions, on the NBBO);
--   * one quote fills at most the size displayed on its side, the rest rests (partially_filled) for
--     later quotes, unless the account's fill model is 'full'; notional orders fill whole;
--   * one account's orders on one side share that size (mbt.share_displayed): on each quote they take
--     it best price first (market orders and triggered stops before limits), then by submission time,
--     and an order evaluated on a quote after others of its account (at its submission; an exit gone
--     live, on the batch's second pass) takes only what their fills left of it; another account's
--     orders see the whole size (one book per user, no matching between users);
--   * a fill happens at its quote's time, or at the submission's when the quote was the latest at a
--     submission (it is older than the order): filled_at, the fill's transaction_time, a stop's
--     trigger, the audit rows and the trade updates never come before the order; quote_time on the
--     fill keeps the quote's own time;
--   * a trailing stop's mark (sell: the highest bid, buy: the lowest ask) follows the quotes of the
--     regular session, its stop price with it (mbt.trailing_stop_price); it triggers like a stop, on the
--     quote that crosses the stop price as it stands after that quote, and then acts as a market order;
--     stops of a symbol and side whose marks have met ride one shared mark (mbt.trailing_extremes) until
--     they leave the book: the same quotes move them alike, so the batch moves that one row;
--   * the exits of a bracket, oco or oto group share what remains of the position they protect: one
--     allocation, in quote order, across both; after every fill each open exit leaves what the group
--     leaves, and when nothing is left the exit that filled last is filled and the other canceled;
--   * a held exit becomes live (new) when its entry is completely filled, and fills only on quotes after
--     the one that completed the entry: a second pass over the same batch, for those exits only;
--   * every fill keeps its quote (id and copy) and names the rule that fired.
--
-- Cost: a batch looks up only the resting orders its prices can reach (mbt.orders_in_reach, on the
-- orders_resting_* partial indexes), the trailing stops it can move or trigger (mbt.trailing_marks_in_reach,
-- on mbt.trailing_marks) and the riders it may trigger or outlive (mbt.trailing_riders_in_reach, when the
-- bounds on their shared mark say it may), and takes only its quotes on the symbols of those orders further,
-- so it grows with the orders a batch hits, not with the orders resting.
-- PL/pgSQL, so the statement's plan is cached across calls.
create or replace function mbt.fill_orders(
    p_quotes md.quotes[],
    p_only_orders mbt.order_ref[] default null,
    p_as_of timestamptz default null
)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_staleness constant interval := mbt.quote_staleness();
    v_only_orders mbt.order_ref[] := p_only_orders;
    v_fills integer;
    v_total integer := 0;
    v_pass integer := 1;
begin
    -- a submission's order that no quote given reaches (a limit away from the quote, a stop the quote does not
    -- trigger) has nothing to evaluate: the reach of the reachable CTE below, for these orders, and no more
    if p_only_orders is not null and not exists (
        select
        from unnest(p_only_orders) as k
        inner join mbt.orders as o on k.account_id = o.account_id and k.order_id = o.order_id
        inner join unnest(p_quotes) as q on o.symbol = q.symbol
        where o.status in ('new', 'partially_filled', 'accepted')
            and case
                when o.order_type = 'limit' then
                    o.side = 'buy' and o.limit_price >= q.ask_price or o.side = 'sell' and o.limit_price <= q.bid_price
                when o.order_type in ('stop', 'stop_limit') and o.stop_triggered_at is null then
                    o.side = 'buy' and o.stop_price <= q.ask_price or o.side = 'sell' and o.stop_price >= q.bid_price
                else true
            end
    ) then
        return 0;
    end if;
    loop
    with
    -- the batch's quotes that may fill: not crossed, locked or zero, and fresh when they arrived
    usable as (
        select q.*
        from unnest(p_quotes) as q
        where q.bid_price > 0 and q.ask_price > 0 and q.bid_price < q.ask_price
            and coalesce(p_as_of, q.received_at) - q.quote_time <= v_staleness
    ),

    -- per symbol, the prices the batch's usable quotes span
    batch_range as (
        select u.symbol, min(u.ask_price) as min_ask, max(u.ask_price) as max_ask,
            min(u.bid_price) as min_bid, max(u.bid_price) as max_bid, max(u.quote_time) as last_time
        from usable as u
        group by u.symbol
    ),

    -- the resting orders a quote of the batch can fill or trigger (untriggered trailing stops apart: their
    -- stop moves with the quotes); the orders a call is limited to, with the mark a live trailing stop's mark
    -- row has reached (the engine moves it there, not on the order: a replay's later chunks go on from it)
    reached as materialized (
        select o.*, m.hwm as live_hwm
        from unnest(v_only_orders) as k
        inner join mbt.orders as o on k.account_id = o.account_id and k.order_id = o.order_id
        left join mbt.trailing_marks as m
            on o.order_type = 'trailing_stop' and o.account_id = m.account_id and o.order_id = m.order_id and not m.rides
        where o.status in ('new', 'partially_filled', 'accepted')
        union all
        select x.*, null
        from batch_range as r
        cross join lateral mbt.orders_in_reach(r.symbol, r.min_ask, r.max_ask, r.min_bid, r.max_bid) as x
        where v_only_orders is null
    ),

    -- the shared marks of the riders on the batch's symbols (mbt.trailing_extremes_in_reach): whether the
    -- batch may move them, and the trails it may trigger
    shared_marks as materialized (
        select x.*, r.last_time
        from batch_range as r
        cross join lateral mbt.trailing_extremes_in_reach(
            r.symbol, r.min_ask, r.max_ask, r.min_bid, r.max_bid, r.last_time
        ) as x
        where v_only_orders is null
    ),

    -- untriggered trailing stops on the batch's symbols whose marks the batch may move or that it may
    -- trigger, from their narrow copies (mbt.trailing_marks_in_reach), and the riders it may trigger or
    -- outlive, at their shared mark (mbt.trailing_riders_in_reach): the others stand through the batch, the
    -- riders at their shared mark wherever it goes
    trailing_resting as materialized (
        select
            m.account_id, m.order_id, m.symbol, m.side, m.hwm, m.submitted_at, m.expires_at, m.trail_price,
            m.trail_percent, m.stop_price as stop_now, false as rides
        from batch_range as r
        cross join lateral mbt.trailing_marks_in_reach(r.symbol, r.min_ask, r.max_ask, r.min_bid, r.max_bid) as m
        where v_only_orders is null
        union all
        select
            m.account_id, m.order_id, m.symbol, m.side, s.hwm, m.submitted_at, m.expires_at, m.trail_price,
            m.trail_percent, mbt.trailing_stop_price(m.side, s.hwm, m.trail_price, m.trail_percent), true
        from shared_marks as s
        cross join lateral mbt.trailing_riders_in_reach(
            s.symbol, s.side, s.trail_price_reach, s.trail_percent_reach, s.last_time
        ) as m
        where s.riders_in_reach
    ),

    -- the symbols with something to do: an order in reach, a trailing stop whose mark may move, or a shared
    -- mark that may move or whose riders the batch may reach
    active_symbols as (
        select a.symbol, bool_or(a.trailing) as trailing
        from (
            select o.symbol, false as trailing from reached as o
            union all
            select t.symbol, true from trailing_resting as t
            union all
            select s.symbol, true from shared_marks as s
            where s.may_move or s.riders_in_reach
        ) as a
        group by a.symbol
    ),

    -- the calendar rows of the batch's New York days (one, or two around midnight)
    batch_days as materialized (
        select c
        from md.market_calendar as c
        where c.trading_date between (select (min(u.quote_time) at time zone 'America/New_York')::date from usable as u)
            and (select (max(u.quote_time) at time zone 'America/New_York')::date from usable as u)
    ),

    -- the usable quotes of those symbols, with their session: quotes that reach no order cost the lookups
    -- above and no more
    batch as (
        select
            u.*, coalesce(md.session_of(u.quote_time, d.c), 'closed') as market_session, s.trailing
        from active_symbols as s
        inner join usable as u on s.symbol = u.symbol
        left join batch_days as d on (d.c).trading_date = (u.quote_time at time zone 'America/New_York')::date
    ),

    -- per symbol, what the batch's regular-session quotes do to trailing stops: the extremes that move
    -- their marks, and the largest pull-back from the running extreme (in dollars, and as a fraction
    -- with a cent of slack for the stop's rounding), which a trail must not exceed to be triggered
    trail_range as (
        select
            t.symbol, max(t.bid_price) as max_bid, min(t.ask_price) as min_ask, min(t.bid_price) as min_bid,
            max(t.ask_price) as max_ask, max(t.high_bid - t.bid_price) as pullback,
            max(1 - (t.bid_price - 0.01) / t.high_bid) as pullback_fraction, max(t.ask_price - t.low_ask) as rebound,
            max((t.ask_price + 0.01) / t.low_ask - 1) as rebound_fraction, min(t.quote_time) as first_time,
            max(t.quote_time) as last_time, min(t.received_at) as first_received
        from (
            select
                b.*, max(b.bid_price) over w as high_bid, min(b.ask_price) over w as low_ask
            from batch as b
            where b.market_session = 'regular' and b.trailing
            window w as (partition by b.symbol order by b.quote_time, b.quote_id rows unbounded preceding)
        ) as t
        group by t.symbol
    ),

    -- the few trailing stops the batch may trigger (or that are too new for the summary) go quote by
    -- quote with the other candidates, the rest only move their mark; the stop stands where the mark
    -- puts it (mbt.order_stop_price)
    trailing_stops as materialized (
        select
            t.account_id, t.order_id, t.symbol, t.side, t.hwm, t.rides, t.trail_price, t.trail_percent, t.expires_at,
            t.submitted_at, r.max_bid, r.min_ask, r.last_time,
            -- riders come only when the batch may trigger or outlive them
            t.rides or coalesce(t.submitted_at > r.first_time or coalesce(t.expires_at, 'infinity') <= r.last_time
            or t.hwm is null
            or case when t.side = 'sell' then
                r.min_bid <= t.stop_now or coalesce(t.trail_price <= r.pullback, t.trail_percent / 100 <= r.pullback_fraction)
            else
                r.max_ask >= t.stop_now or coalesce(t.trail_price <= r.rebound, t.trail_percent / 100 <= r.rebound_fraction)
            end, true) as may_trigger
        from trail_range as r
        inner join trailing_resting as t on r.symbol = t.symbol
    ),

    -- with the mark of a live trailing stop as it stands (its mark row: the order keeps the one it was
    -- submitted with until it leaves the book)
    reachable as (
        select o.* from reached as o
        union all
        select o.*, t.hwm
        from trailing_stops as t
        inner join mbt.orders as o on t.account_id = o.account_id and t.order_id = o.order_id
        where t.may_trigger
    ),

    candidates as (
        select
            o.account_id, o.order_id, o.symbol, o.asset_id, o.asset_class, o.side, o.order_type, o.qty, o.notional,
            o.filled_qty, o.limit_price, o.stop_price, o.stop_triggered_at, o.trail_price, o.trail_percent,
            coalesce(o.live_hwm, o.hwm) as hwm, o.group_id, o.leg, o.submitted_at, a.fill_model,
            b.quote_id, b.bid_price, b.ask_price, b.bid_size, b.ask_size, b.bid_exchange, b.ask_exchange,
            b.quote_time,
            -- when a fill on this quote happens: at the quote, or at the submission the quote was evaluated at
            -- (a submission's quote is older than the order; the fill is not)
            greatest(b.quote_time, p_as_of) as executed_at
        from reachable as o
        inner join batch as b on o.symbol = b.symbol
        inner join mbt.accounts as a on o.account_id = a.account_id
        where (p_as_of is not null or b.quote_time >= o.submitted_at)
            and (o.activated_at is null or b.quote_time > o.activated_at)
            and b.quote_time < coalesce(o.expires_at, 'infinity')
            -- the closing auction, approximated by the last minute before the close
            and (o.time_in_force <> 'cls' or b.quote_time >= o.expires_at - interval '1 minute')
            and (b.market_session = 'regular'
                or (o.extended_hours and b.market_session in ('pre_market', 'after_hours')))
    ),

    -- a trailing stop's stop price as it stands after each quote
    with_stop as (
        select
            s.*,
            coalesce(mbt.trailing_stop_price(s.side, s.mark, s.trail_price, s.trail_percent), s.stop_price) as stop_now
        from (
            select
                c.*,
                case when c.order_type = 'trailing_stop' and c.stop_triggered_at is null then
                    case when c.side = 'sell' then greatest(c.hwm, max(c.bid_price) over w)
                        else least(c.hwm, min(c.ask_price) over w) end
                end as mark
            from candidates as c
            window w as (partition by c.order_id order by c.quote_time, c.quote_id rows unbounded preceding)
        ) as s
    ),

    with_trigger as (
        select
            c.*,
            coalesce(c.stop_triggered_at, min(c.quote_time) filter (
                where c.order_type in ('stop', 'stop_limit', 'trailing_stop')
                and ((c.side = 'buy' and c.ask_price >= c.stop_now) or (c.side = 'sell' and c.bid_price <= c.stop_now))
            ) over (partition by c.order_id)) as triggered_at
        from with_stop as c
    ),

    -- each side's shared mark after the batch, on the symbols with trailing stops to follow: a side with
    -- riders moves it by its regular-session quotes' extreme, a side without takes that extreme (which the
    -- stops that reach it join); a stop may join only once no usable quote can be older than its submission
    -- (submitted a staleness bound before the batch's first arrival: later quotes arrive later still)
    shared_after as (
        select
            r.symbol, k.side, s.hwm as hwm_before, coalesce(s.riders_in_reach, false) as probed, r.last_time,
            r.first_received - v_staleness as joins_if_submitted_by,
            case when k.side = 'sell' then greatest(s.hwm, r.max_bid) else least(s.hwm, r.min_ask) end as hwm
        from trail_range as r
        cross join (values ('sell'::mbt.order_side), ('buy')) as k (side)
        left join shared_marks as s on r.symbol = s.symbol and k.side = s.side
    ),

    -- the trailing stops read: those of the batch's symbols (above) and, for a submission or a replay,
    -- its own untriggered ones (they go quote by quote)
    trailing_read as (
        select
            t.account_id, t.order_id, t.symbol, t.side, t.hwm, t.rides, t.may_trigger, t.max_bid, t.min_ask,
            t.last_time, t.trail_price, t.trail_percent, t.expires_at, t.submitted_at
        from trailing_stops as t
        union all
        select
            o.account_id, o.order_id, o.symbol, o.side, coalesce(o.live_hwm, o.hwm), false, true, null, null, null,
            o.trail_price, o.trail_percent, o.expires_at, o.submitted_at
        from reached as o
        where o.order_type = 'trailing_stop' and o.stop_triggered_at is null
    ),

    -- where each trailing stop read stands after the batch: its mark (where it triggered, for one that
    -- triggers; from the symbol's extremes, for one the batch cannot trigger), and whether it rides its
    -- side's shared mark from now on (it has not triggered and its mark is that mark)
    trailing_after as (
        select
            t.account_id, t.order_id, t.symbol, t.side, t.trail_price, t.trail_percent, t.expires_at,
            t.hwm as hwm_before, t.rides as rode, q.triggered_at is not null as triggers, m.hwm, m.moved_at,
            coalesce(q.triggered_at is null and m.hwm = a.hwm and (t.rides or t.submitted_at <= a.joins_if_submitted_by),
                false) as rides
        from trailing_read as t
        left join (
            select distinct on (w.order_id) w.order_id, w.mark, w.quote_time, w.triggered_at
            from with_trigger as w
            where w.mark is not null and w.quote_time <= coalesce(w.triggered_at, 'infinity')
            order by w.order_id, w.quote_time desc, w.quote_id desc
        ) as q on t.order_id = q.order_id
        cross join lateral (
            select
                case
                    when t.may_trigger then coalesce(q.mark, t.hwm)
                    when t.side = 'sell' then greatest(t.hwm, t.max_bid)
                    else least(t.hwm, t.min_ask)
                end as hwm,
                case when t.may_trigger then q.quote_time else t.last_time end as moved_at
        ) as m
        left join shared_after as a on t.symbol = a.symbol and t.side = a.side
    ),

    -- a live stop's mark moves on its mark row alone, not on the order (a narrow row, not a wide one and its
    -- indexes; the order takes its mark when it leaves the book: mbt.take_trailing_mark), and only a stop that
    -- does not ride: a stop that joins its shared mark, or leaves it (a rider read that the batch's quotes
    -- moved otherwise), says so; the mark rows of stops that trigger here go when the statement ends
    -- (mbt.sync_trailing_marks), their orders take the mark they triggered at
    marks_moved as (
        update mbt.trailing_marks as m
        set hwm = t.hwm, stop_price = mbt.trailing_stop_price(m.side, t.hwm, m.trail_price, m.trail_percent),
            moved_at = case when t.hwm is distinct from m.hwm then coalesce(t.moved_at, m.moved_at) else m.moved_at end,
            rides = t.rides
        from trailing_after as t
        where m.account_id = t.account_id and m.order_id = t.order_id and not t.triggers
            and (t.rides <> t.rode or not t.rides and t.hwm is distinct from t.hwm_before)
    ),

    -- the stops that ride their side's shared mark after the batch, among those read, per side
    riders_read as (
        select
            t.symbol, t.side, min(t.trail_price) as min_trail_price, min(t.trail_percent) as min_trail_percent,
            min(t.expires_at) as min_expires_at, bool_or(not t.rode) as joins
        from trailing_after as t
        where t.rides
        group by t.symbol, t.side
    ),

    -- a side's shared mark moves (one row for all its riders), takes the stops that join it, and, when the
    -- batch read its riders, the bounds of the riders it has (or none: no rider, no shared mark)
    shared_moved as (
        update mbt.trailing_extremes as x
        set hwm = case when n.probed and n.min_trail_price is null and n.min_trail_percent is null then null
                else n.hwm end,
            moved_at = case when n.hwm is distinct from n.hwm_before then n.last_time else x.moved_at end,
            min_trail_price = case when n.probed then n.min_trail_price
                else least(x.min_trail_price, n.min_trail_price) end,
            min_trail_percent = case when n.probed then n.min_trail_percent
                else least(x.min_trail_percent, n.min_trail_percent) end,
            min_expires_at = case when n.probed then n.min_expires_at else least(x.min_expires_at, n.min_expires_at) end
        from (
            select
                a.symbol, a.side, a.hwm, a.hwm_before, a.last_time, a.probed,
                case when a.probed then least(j.min_trail_price, (
                    select min(m.trail_price) from mbt.trailing_marks as m
                    where m.symbol = a.symbol and m.side = a.side and m.rides
                )) else j.min_trail_price end as min_trail_price,
                case when a.probed then least(j.min_trail_percent, (
                    select min(m.trail_percent) from mbt.trailing_marks as m
                    where m.symbol = a.symbol and m.side = a.side and m.rides
                )) else j.min_trail_percent end as min_trail_percent,
                case when a.probed then least(j.min_expires_at, (
                    select min(m.expires_at) from mbt.trailing_marks as m
                    where m.symbol = a.symbol and m.side = a.side and m.rides
                )) else j.min_expires_at end as min_expires_at
            from shared_after as a
            left join riders_read as j on a.symbol = j.symbol and a.side = j.side
            where a.hwm_before is not null and (a.hwm <> a.hwm_before or a.probed or j.joins)
        ) as n
        where x.symbol = n.symbol and x.side = n.side
    ),

    -- a side without a shared mark starts one with the stops that join it
    shared_started as (
        insert into mbt.trailing_extremes as x (
            symbol, side, hwm, moved_at, min_trail_price, min_trail_percent, min_expires_at
        )
        select a.symbol, a.side, a.hwm, a.last_time, j.min_trail_price, j.min_trail_percent, j.min_expires_at
        from shared_after as a
        inner join riders_read as j on a.symbol = j.symbol and a.side = j.side
        where a.hwm_before is null
        on conflict (symbol, side) do update
        set hwm = excluded.hwm, moved_at = excluded.moved_at, min_trail_price = excluded.min_trail_price,
            min_trail_percent = excluded.min_trail_percent, min_expires_at = excluded.min_expires_at
    ),

    -- what the account's orders took of a quote before this call, where a call sees a quote again: a
    -- submission (the orders resting when its quote arrived took first) and a batch's later passes (the
    -- exits that went live come after the orders of the first); the fills say. A batch's first pass sees its
    -- quotes for the first time.
    taken_before_call as (
        select f.account_id, f.quote_id, f.side, sum(f.qty) as qty
        from (select distinct o.account_id from reached as o) as a
        cross join unnest(p_quotes) as q
        inner join mbt.fills as f on a.account_id = f.account_id and q.quote_id = f.quote_id
        where v_only_orders is not null
        group by f.account_id, f.quote_id, f.side
    ),

    marketable as (
        select
            t.*,
            case when t.side = 'buy' then t.ask_price else t.bid_price end as price,
            -- (what the account took of the quote before this call is no longer there for it)
            case
                when t.fill_model = 'full' or t.notional is not null then null
                else greatest(case when t.side = 'buy' then t.ask_size else t.bid_size end - coalesce(e.qty, 0), 0)
            end as displayed,
            -- on one quote, an account's orders on one side take its size best price first (market orders and
            -- stops that act as one before limits), then in time
            case when t.order_type in ('limit', 'stop_limit') then
                case when t.side = 'buy' then -t.limit_price else t.limit_price end
            end as price_priority,
            case
                when t.order_type = 'market' then 'market_at_' || case when t.side = 'buy' then 'ask' else 'bid' end
                when t.order_type = 'limit' then 'limit_marketable'
                when t.order_type in ('stop', 'trailing_stop') then
                    t.order_type || '_triggered_' || case when t.side = 'buy' then 'ask' else 'bid' end
                else 'stop_limit_triggered_marketable'
            end as rule,
            -- the exits of a group draw on one quantity
            case when t.leg in ('take_profit', 'stop_loss') then t.group_id else t.order_id end as allocation_key
        from with_trigger as t
        left join taken_before_call as e on t.account_id = e.account_id and t.quote_id = e.quote_id and t.side = e.side
        where (t.order_type in ('market', 'limit') or t.quote_time >= t.triggered_at)
            and (
                t.order_type in ('market', 'stop', 'trailing_stop')
                or (t.side = 'buy' and t.ask_price <= t.limit_price)
                or (t.side = 'sell' and t.bid_price >= t.limit_price)
            )
            and case when t.side = 'buy' then t.ask_size else t.bid_size end > 0
    ),

    -- the account sides on which more than one order (or group of exits) may take the size of one of the
    -- batch's quotes: those share each quote, in turn (mbt.share_displayed)
    shared_sides as (
        select m.account_id, m.symbol, m.side
        from marketable as m
        where m.displayed is not null
        group by m.account_id, m.symbol, m.side
        having min(m.allocation_key::text) <> max(m.allocation_key::text)
    ),

    allocated as (
        -- an order alone on its side (or filling whole): what it has left, at most each quote's size in turn
        select a.*, least(coalesce(a.displayed, a.remaining), a.remaining - a.taken_before) as fill_qty
        from (
            select
                m.*,
                coalesce(m.qty, round(m.notional / m.price, 9)) - m.filled_qty as remaining,
                coalesce(sum(coalesce(m.displayed, 'infinity'::numeric)) over (
                    partition by m.allocation_key order by m.quote_time, m.quote_id, m.order_id
                    rows between unbounded preceding and 1 preceding
                ), 0) as taken_before
            from marketable as m
            where m.displayed is null or not exists (
                select from shared_sides as s where m.account_id = s.account_id and m.symbol = s.symbol and m.side = s.side
            )
        ) as a
        union all
        -- orders that share their side: quote by quote, each takes what it has left of what the orders before
        -- it left of the quote
        select
            m.*, null,
            (mbt.share_displayed(m.quote_id, m.allocation_key, m.remaining, m.displayed) over (
                partition by m.account_id, m.symbol, m.side
                order by m.quote_time, m.quote_id, m.price_priority nulls first, m.submitted_at, m.order_id
                rows unbounded preceding
            )).took
        from (
            select m.*, coalesce(m.qty, round(m.notional / m.price, 9)) - m.filled_qty as remaining
            from marketable as m
            inner join shared_sides as s on m.account_id = s.account_id and m.symbol = s.symbol and m.side = s.side
            where m.displayed is not null
        ) as m
    ),

    fills as (
        select al.*, gen_random_uuid() as fill_id
        from allocated as al
        where al.fill_qty > 0
    ),

    -- the position after each fill: the open position first, then the fills in time order
    path as (
        select
            p.account_id, p.symbol, p.asset_id, p.asset_class, 0 as step, null::timestamptz as quote_time,
            null::bigint as quote_id, null::uuid as fill_id, p.qty as signed_qty, p.avg_entry_price as price,
            null::timestamptz as executed_at
        from mbt.positions as p
        where (p.account_id, p.symbol) in (select f.account_id, f.symbol from fills as f)
        union all
        select
            f.account_id, f.symbol, f.asset_id, f.asset_class, 1, f.quote_time, f.quote_id, f.fill_id,
            case when f.side = 'buy' then f.fill_qty else -f.fill_qty end, f.price, f.executed_at
        from fills as f
    ),

    running as (
        select
            pa.*,
            mbt.position_after(pa.signed_qty, pa.price) over w as after,
            row_number() over (partition by pa.account_id, pa.symbol order by pa.step desc, pa.quote_time desc,
                pa.quote_id desc, pa.fill_id desc) as from_last
        from path as pa
        window w as (partition by pa.account_id, pa.symbol order by pa.step, pa.quote_time, pa.quote_id, pa.fill_id
            rows unbounded preceding)
    ),

    fills_with_position as (
        select
            f.*,
            (r.after).qty as position_qty,
            (r.after).realized_pl - coalesce(lag((r.after).realized_pl) over (
                partition by r.account_id, r.symbol order by r.step, r.quote_time, r.quote_id, r.fill_id
            ), 0) as realized_pl,
            f.filled_qty + sum(f.fill_qty) over (
                partition by f.order_id order by f.quote_time, f.quote_id
            ) as cum_qty,
            f.remaining - sum(f.fill_qty) over (
                partition by f.allocation_key order by f.quote_time, f.quote_id, f.order_id
            ) as leaves_qty
        from fills as f
        inner join running as r on f.fill_id = r.fill_id
    ),

    new_fills as (
        insert into mbt.fills (
            account_id, fill_id, order_id, symbol, side, qty, price, rule, engine_version, quote_id,
            quote_bid_price, quote_ask_price, quote_bid_size, quote_ask_size, quote_bid_exchange, quote_ask_exchange,
            quote_time, cum_qty, leaves_qty, position_qty, realized_pl, transaction_time
        )
        select
            f.account_id, f.fill_id, f.order_id, f.symbol, f.side, f.fill_qty, f.price, f.rule, mbt.engine_version(),
            f.quote_id, f.bid_price, f.ask_price, f.bid_size, f.ask_size, f.bid_exchange, f.ask_exchange, f.quote_time,
            f.cum_qty, f.leaves_qty, f.position_qty, f.realized_pl, f.executed_at
        from fills_with_position as f
        returning *
    ),

    order_totals as (
        select
            f.account_id, f.order_id, sum(f.qty) as qty, sum(f.qty * f.price) as value,
            max(f.transaction_time) as last_time, min(f.leaves_qty) as leaves_qty
        from new_fills as f
        group by f.account_id, f.order_id
    ),

    triggered as (
        -- (a stop triggered by a submission's quote triggers at the submission)
        select distinct wt.account_id, wt.order_id, greatest(wt.triggered_at, p_as_of) as triggered_at, wt.hwm as live_hwm
        from with_trigger as wt
        where wt.stop_triggered_at is null and wt.triggered_at is not null
    ),

    -- groups whose exits filled: what the group leaves, and which exit filled last
    group_fills as (
        select
            f.account_id, f.group_id, min(f.leaves_qty) as group_leaves, max(f.executed_at) as last_time,
            (array_agg(f.order_id order by f.quote_time desc, f.quote_id desc, f.order_id desc))[1] as last_filler
        from fills_with_position as f
        where f.leg in ('take_profit', 'stop_loss')
        group by f.account_id, f.group_id
    ),

    group_exits as (
        select o.account_id, o.order_id, g.group_leaves, g.last_filler, g.last_time
        from group_fills as g
        inner join mbt.orders as o on g.account_id = o.account_id and g.group_id = o.group_id
        where o.leg in ('take_profit', 'stop_loss') and o.status in ('new', 'partially_filled', 'accepted')
    ),

    -- one row per order that changes, from whichever of the above concern it (an aggregate over their
    -- union, not joins: each of them may be large, and each names an order at most once)
    order_changes as (
        select
            u.account_id, u.order_id, max(u.qty) as qty, max(u.value) as value, max(u.last_time) as last_time,
            max(u.leaves_qty) as leaves_qty, max(u.triggered_at) as triggered_at, max(u.hwm) as hwm,
            max(u.live_hwm) as live_hwm, max(u.group_leaves) as group_leaves,
            max(u.last_filler::text)::uuid as last_filler, max(u.group_last_time) as group_last_time
        from (
            select
                t.account_id, t.order_id, t.qty, t.value, t.last_time, t.leaves_qty, null::timestamptz as triggered_at,
                null::numeric as hwm, null::numeric as live_hwm,
                null::numeric as group_leaves, null::uuid as last_filler, null::timestamptz as group_last_time
            from order_totals as t
            union all
            select w.account_id, w.order_id, null, null, null, null, w.triggered_at, null, w.live_hwm, null, null, null
            from triggered as w
            union all
            -- where the mark of a stop that triggers stood when it triggered (the others' moves: marks_moved)
            select m.account_id, m.order_id, null, null, null, null, null, m.hwm, null, null, null, null
            from trailing_after as m
            where m.triggers
            union all
            select g.account_id, g.order_id, null, null, null, null, null, null, null, g.group_leaves, g.last_filler,
                g.last_time
            from group_exits as g
        ) as u
        group by u.account_id, u.order_id
    ),

    updated_orders as (
        update mbt.orders as o
        set filled_qty = o.filled_qty + coalesce(c.qty, 0),
            filled_avg_price = case
                when c.qty is null then o.filled_avg_price
                else round((coalesce(o.filled_avg_price, 0) * o.filled_qty + c.value) / (o.filled_qty + c.qty), 9)
            end,
            -- an open exit leaves what its group leaves; the exit that completes the group is filled
            qty = case
                when c.group_leaves > 0 or c.last_filler = o.order_id then o.filled_qty + coalesce(c.qty, 0) + c.group_leaves
                else o.qty
            end,
            status = case
                when c.group_leaves = 0 and c.last_filler = o.order_id then 'filled'
                when c.group_leaves = 0 then 'canceled'
                when c.qty is null then o.status
                when c.leaves_qty = 0 then 'filled'
                else 'partially_filled'
            end::mbt.order_status,
            filled_at = case
                when c.group_leaves = 0 and c.last_filler = o.order_id then c.group_last_time
                when c.group_leaves is null and c.leaves_qty = 0 then c.last_time
                else o.filled_at
            end,
            canceled_at = case when c.group_leaves = 0 and c.last_filler <> o.order_id then c.group_last_time
                else o.canceled_at end,
            buying_power_held = case
                when c.qty is null and c.group_leaves is distinct from 0 then o.buying_power_held
                when c.leaves_qty = 0 or c.group_leaves = 0 then 0
                else round(o.buying_power_held * c.leaves_qty / (c.leaves_qty + c.qty), 2)
            end,
            stop_triggered_at = coalesce(o.stop_triggered_at, c.triggered_at),
            -- a trailing stop that triggers takes the mark and the stop price where they stood then
            hwm = coalesce(c.hwm, c.live_hwm, o.hwm),
            stop_price = case
                when o.order_type = 'trailing_stop' and o.stop_triggered_at is null and c.triggered_at is not null then
                    coalesce(mbt.trailing_stop_price(o.side, coalesce(c.hwm, c.live_hwm, o.hwm), o.trail_price,
                        o.trail_percent), o.stop_price)
                else o.stop_price
            end,
            updated_at = coalesce(c.last_time, c.group_last_time, c.triggered_at)
        from order_changes as c
        where o.account_id = c.account_id and o.order_id = c.order_id
        returning o.*
    ),

    -- a bracket's or oto's exits go live when their entry is completely filled
    activated as (
        update mbt.orders as x
        set status = 'new', activated_at = e.filled_at, updated_at = e.filled_at
        from updated_orders as e
        where e.leg = 'entry' and e.status = 'filled'
            and x.account_id = e.account_id and x.group_id = e.group_id and x.status = 'held'
        returning x.*
    ),

    new_positions as (
        insert into mbt.positions as p (
            account_id, symbol, asset_id, asset_class, qty, avg_entry_price, realized_pl, opened_at, updated_at
        )
        select
            r.account_id, r.symbol, r.asset_id, r.asset_class, (r.after).qty, round((r.after).avg_price, 9),
            (r.after).realized_pl, r.executed_at, r.executed_at
        from running as r
        where r.from_last = 1
        on conflict (account_id, symbol) do update
        set qty = excluded.qty,
            avg_entry_price = excluded.avg_entry_price,
            realized_pl = p.realized_pl + excluded.realized_pl,
            opened_at = case when p.qty = 0 or sign(p.qty) <> sign(excluded.qty) then excluded.opened_at else p.opened_at end,
            updated_at = excluded.updated_at
        returning 1
    ),

    cash as (
        update mbt.accounts as a
        set cash = a.cash + c.amount
        from (
            select
                f.account_id,
                sum(round(case when f.side = 'buy' then -f.qty * f.price else f.qty * f.price end, 2)) as amount
            from new_fills as f
            group by f.account_id
        ) as c
        where a.account_id = c.account_id
        returning 1
    ),

    -- the state of each order that filled, by id (one lookup per fill; the orders updated also include
    -- stops that triggered without filling and exits their group canceled)
    filled_orders as materialized (
        select jsonb_object_agg(o.order_id::text, mbt.order_json(o)) as states
        from updated_orders as o
        where o.order_id = any(array(select f.order_id from new_fills as f))
    ),

    -- each fill's event with the order's state after it: the audit row and the trade update are made
    -- from it (not from the inserted rows joined back to the fills, a join the planner makes a nested loop)
    fill_events as (
        select
            f.account_id, f.order_id, f.fill_id, f.transaction_time, f.price, f.qty, f.position_qty, f.cum_qty,
            case when f.leaves_qty = 0 then 'fill' else 'partial_fill' end as event,
            (o.states -> f.order_id::text) || jsonb_build_object(
                'filled_qty', trim_scale(f.cum_qty)::text,
                'status', case when f.leaves_qty = 0 then 'filled' else 'partially_filled' end
            ) as order_state
        from new_fills as f
        cross join filled_orders as o
    ),

    -- the audit rows, in one insert in time order, so that each order's rows follow one another in event_id
    -- as in time (its fills before a cancel at the same instant): each fill's event, the exits their group
    -- canceled and the exits that went live
    events as (
        insert into mbt.order_events as e (account_id, order_id, event, event_at, fill_id, order_state)
        select u.account_id, u.order_id, u.event, u.event_at, u.fill_id, u.order_state
        from (
            select
                f.account_id, f.order_id, f.event, f.transaction_time as event_at, f.fill_id, f.order_state,
                0 as kind, f.cum_qty as seq
            from fill_events as f
            union all
            select o.account_id, o.order_id, 'canceled', o.canceled_at, null, mbt.order_json(o), 1, 0
            from updated_orders as o
            where o.status = 'canceled'
            union all
            select x.account_id, x.order_id, 'accepted', x.activated_at, null, mbt.order_json(x), 1, 0
            from activated as x
        ) as u
        order by u.event_at, u.kind, u.seq
        returning
            e.account_id, e.event, e.event_at, e.fill_id is null as changes_status,
            case when e.fill_id is null then e.order_state end as order_state
    ),

    trade_updates as (
        select mbt.publish_trade_updates(array_agg(u.message order by u.event_at, u.kind, u.seq)) as sent
        from (
            select
                mbt.trade_update(f.event, f.order_state, f.account_id, f.transaction_time, f.price, f.qty,
                    f.position_qty, f.fill_id) as message,
                f.transaction_time as event_at, 0 as kind, f.cum_qty as seq
            from fill_events as f
            union all
            select
                mbt.trade_update(case when s.event = 'canceled' then 'canceled' else 'new' end, s.order_state,
                    s.account_id, s.event_at),
                s.event_at, 1, 0
            from events as s
            where s.changes_status
        ) as u
    )

    -- the data-modifying steps above run whether or not they are read; trade_updates is a query,
    -- so reading it here is what sends: one message per event
    select (select count(*) from new_fills), (select array_agg((x.account_id, x.order_id)::mbt.order_ref) from activated as x)
    into v_fills, v_only_orders
    from trade_updates as t;

    v_total := v_total + v_fills;
    -- exits that went live may fill on the rest of the batch
    exit when v_only_orders is null or v_pass >= 3;
    v_pass := v_pass + 1;
    end loop;
    return v_total;
end;
$$;
comment on function mbt.fill_orders(md.quotes[], mbt.order_ref[], timestamptz) is $$The fill engine.
Evaluates resting orders against a batch of quotes in one statement and writes fills (with their quote), orders,
positions, cash, audit events and trade_updates. Returns the number of fills.$$;
