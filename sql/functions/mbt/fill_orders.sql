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
--   * every fill keeps its quote (id and copy) and names the rule that fired.
--
-- Cost: a batch looks up only the resting orders its prices can reach (the orders_resting_* partial
-- indexes), so it grows with the orders a batch hits, not with the orders resting. PL/pgSQL, so the
-- statement's plan is cached across calls.
create or replace function mbt.fill_orders(
    p_quotes md.quotes[],
    p_only_orders uuid[] default null,
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
    v_fills integer;
begin
    with
    batch as (
        select q.*, md.session_of(q.quote_time, c) as market_session
        from unnest(p_quotes) as q
        left join md.market_calendar as c on c.trading_date = (q.quote_time at time zone 'America/New_York')::date
        where q.bid_price > 0 and q.ask_price > 0 and q.bid_price < q.ask_price
            and coalesce(p_as_of, q.received_at) - q.quote_time <= v_staleness
    ),

    -- per symbol, the prices the batch's usable quotes span
    batch_range as (
        select b.symbol, min(b.ask_price) as min_ask, max(b.ask_price) as max_ask,
            min(b.bid_price) as min_bid, max(b.bid_price) as max_bid
        from batch as b
        group by b.symbol
    ),

    -- the resting orders a quote of the batch can fill or trigger, one index range per kind
    reachable as (
        select o.account_id, o.order_id
        from mbt.orders as o
        where p_only_orders is not null and o.order_id = any(p_only_orders)
            and o.status in ('new', 'partially_filled', 'accepted')
        union all
        select x.account_id, x.order_id
        from batch_range as r
        cross join lateral (
            select o.account_id, o.order_id from mbt.orders as o
            where o.symbol = r.symbol and o.status in ('new', 'partially_filled', 'accepted')
                and o.order_type = 'limit' and o.side = 'buy' and o.limit_price >= r.min_ask
            union all
            select o.account_id, o.order_id from mbt.orders as o
            where o.symbol = r.symbol and o.status in ('new', 'partially_filled', 'accepted')
                and o.order_type = 'limit' and o.side = 'sell' and o.limit_price <= r.max_bid
            union all
            select o.account_id, o.order_id from mbt.orders as o
            where o.symbol = r.symbol and o.status in ('new', 'partially_filled', 'accepted')
                and o.order_type in ('stop', 'stop_limit') and o.stop_triggered_at is null
                and o.side = 'buy' and o.stop_price <= r.max_ask
            union all
            select o.account_id, o.order_id from mbt.orders as o
            where o.symbol = r.symbol and o.status in ('new', 'partially_filled', 'accepted')
                and o.order_type in ('stop', 'stop_limit') and o.stop_triggered_at is null
                and o.side = 'sell' and o.stop_price >= r.min_bid
            union all
            select o.account_id, o.order_id from mbt.orders as o
            where o.symbol = r.symbol and o.status in ('new', 'partially_filled', 'accepted')
                and (o.order_type not in ('limit', 'stop', 'stop_limit') or o.stop_triggered_at is not null)
        ) as x
        where p_only_orders is null
    ),

    candidates as (
        select
            o.account_id, o.order_id, o.symbol, o.asset_id, o.asset_class, o.side, o.order_type, o.qty, o.notional,
            o.filled_qty,
            o.limit_price, o.stop_price, o.stop_triggered_at, a.fill_model,
            b.quote_id, b.bid_price, b.ask_price, b.bid_size, b.ask_size, b.bid_exchange, b.ask_exchange,
            b.quote_time
        from reachable as ro
        inner join mbt.orders as o on ro.account_id = o.account_id and ro.order_id = o.order_id
        inner join batch as b on o.symbol = b.symbol
        inner join mbt.accounts as a on o.account_id = a.account_id
        where (p_as_of is not null or b.quote_time >= o.submitted_at)
            and b.quote_time < coalesce(o.expires_at, 'infinity')
            -- the closing auction, approximated by the last minute before the close
            and (o.time_in_force <> 'cls' or b.quote_time >= o.expires_at - interval '1 minute')
            and (b.market_session = 'regular'
                or (o.extended_hours and b.market_session in ('pre_market', 'after_hours')))
    ),

    with_trigger as (
        select
            c.*,
            coalesce(c.stop_triggered_at, min(c.quote_time) filter (
                where c.order_type in ('stop', 'stop_limit')
                and ((c.side = 'buy' and c.ask_price >= c.stop_price) or (c.side = 'sell' and c.bid_price <= c.stop_price))
            ) over (partition by c.order_id)) as triggered_at
        from candidates as c
    ),

    marketable as (
        select
            t.*,
            case when t.side = 'buy' then t.ask_price else t.bid_price end as price,
            case
                when t.fill_model = 'full' or t.notional is not null then null
                when t.side = 'buy' then t.ask_size
                else t.bid_size
            end as displayed,
            case
                when t.order_type = 'market' then 'market_at_' || case when t.side = 'buy' then 'ask' else 'bid' end
                when t.order_type = 'limit' then 'limit_marketable'
                when t.order_type = 'stop' then 'stop_triggered_' || case when t.side = 'buy' then 'ask' else 'bid' end
                else 'stop_limit_triggered_marketable'
            end as rule
        from with_trigger as t
        where (t.order_type in ('market', 'limit') or t.quote_time >= t.triggered_at)
            and (
                t.order_type in ('market', 'stop')
                or (t.side = 'buy' and t.ask_price <= t.limit_price)
                or (t.side = 'sell' and t.bid_price >= t.limit_price)
            )
            and case when t.side = 'buy' then t.ask_size else t.bid_size end > 0
    ),

    allocated as (
        select
            m.*,
            coalesce(m.qty, round(m.notional / m.price, 9)) - m.filled_qty as remaining,
            coalesce(sum(coalesce(m.displayed, 'infinity'::numeric)) over (
                partition by m.order_id order by m.quote_time, m.quote_id
                rows between unbounded preceding and 1 preceding
            ), 0) as taken_before
        from marketable as m
    ),

    fills as (
        select
            al.*,
            least(coalesce(al.displayed, al.remaining), al.remaining - al.taken_before) as fill_qty,
            gen_random_uuid() as fill_id
        from allocated as al
        where al.remaining - al.taken_before > 0
    ),

    -- the position after each fill: the open position first, then the fills in time order
    path as (
        select
            p.account_id, p.symbol, p.asset_id, p.asset_class, 0 as step, null::timestamptz as quote_time,
            null::bigint as quote_id, null::uuid as fill_id, p.qty as signed_qty, p.avg_entry_price as price
        from mbt.positions as p
        where (p.account_id, p.symbol) in (select f.account_id, f.symbol from fills as f)
        union all
        select
            f.account_id, f.symbol, f.asset_id, f.asset_class, 1, f.quote_time, f.quote_id, f.fill_id,
            case when f.side = 'buy' then f.fill_qty else -f.fill_qty end, f.price
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
            ) as cum_qty
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
            f.cum_qty, f.remaining + f.filled_qty - f.cum_qty, f.position_qty, f.realized_pl, f.quote_time
        from fills_with_position as f
        returning *
    ),

    order_totals as (
        select
            f.account_id, f.order_id, sum(f.qty) as qty, sum(f.qty * f.price) as value,
            max(f.quote_time) as last_time, min(f.leaves_qty) as leaves_qty
        from new_fills as f
        group by f.account_id, f.order_id
    ),

    order_changes as (
        select
            coalesce(t.account_id, w.account_id) as account_id,
            coalesce(t.order_id, w.order_id) as order_id,
            t.qty, t.value, t.last_time, t.leaves_qty, w.triggered_at
        from order_totals as t
        full join (
            select distinct wt.account_id, wt.order_id, wt.triggered_at
            from with_trigger as wt
            where wt.stop_triggered_at is null and wt.triggered_at is not null
        ) as w on t.order_id = w.order_id
    ),

    updated_orders as (
        update mbt.orders as o
        set filled_qty = o.filled_qty + coalesce(c.qty, 0),
            filled_avg_price = case
                when c.qty is null then o.filled_avg_price
                else round((coalesce(o.filled_avg_price, 0) * o.filled_qty + c.value) / (o.filled_qty + c.qty), 9)
            end,
            status = case
                when c.qty is null then o.status
                when c.leaves_qty = 0 then 'filled'
                else 'partially_filled'
            end::mbt.order_status,
            filled_at = case when c.leaves_qty = 0 then c.last_time else o.filled_at end,
            buying_power_held = case
                when c.qty is null then o.buying_power_held
                when c.leaves_qty = 0 then 0
                else round(o.buying_power_held * c.leaves_qty / (c.leaves_qty + c.qty), 2)
            end,
            stop_triggered_at = coalesce(o.stop_triggered_at, c.triggered_at),
            updated_at = coalesce(c.last_time, c.triggered_at)
        from order_changes as c
        where o.account_id = c.account_id and o.order_id = c.order_id
        returning o.*
    ),

    new_positions as (
        insert into mbt.positions as p (
            account_id, symbol, asset_id, asset_class, qty, avg_entry_price, realized_pl, opened_at, updated_at
        )
        select
            r.account_id, r.symbol, r.asset_id, r.asset_class, (r.after).qty, round((r.after).avg_price, 9),
            (r.after).realized_pl, r.quote_time, r.quote_time
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

    events as (
        insert into mbt.order_events as e (account_id, order_id, event, event_at, fill_id, order_state)
        select
            f.account_id, f.order_id, case when f.leaves_qty = 0 then 'fill' else 'partial_fill' end, f.quote_time,
            f.fill_id,
            mbt.order_json(o) || jsonb_build_object(
                'filled_qty', trim_scale(f.cum_qty)::text,
                'status', case when f.leaves_qty = 0 then 'filled' else 'partially_filled' end
            )
        from new_fills as f
        inner join updated_orders as o on f.order_id = o.order_id
        returning e.account_id, e.order_id, e.event, e.event_at, e.fill_id, e.order_state
    ),

    trade_updates as (
        select mbt.publish_trade_updates(array_agg(
            mbt.trade_update(e.event, e.order_state, e.account_id, e.event_at, f.price, f.qty, f.position_qty, f.fill_id)
            order by e.event_at, f.cum_qty
        )) as sent
        from events as e
        inner join new_fills as f on e.fill_id = f.fill_id
    )

    -- the data-modifying steps above run whether or not they are read; trade_updates is a query,
    -- so reading it here is what sends: one message per fill
    select t.sent into v_fills from trade_updates as t;
    return v_fills;
end;
$$;
comment on function mbt.fill_orders(md.quotes[], uuid[], timestamptz) is $$The fill engine.
Evaluates resting orders against a batch of quotes in one statement and writes fills (with their quote), orders,
positions, cash, audit events and trade_updates. Returns the number of fills.$$;
