-- The ledger's truths (shared/DESIGN.md, "The engine's rules"), checked the way pgledger reconciles its
-- ledger: every stored figure beside what the rows recorded for it add up to, and one row for every
-- difference. No rows: clean. For each account:
--
--   cash                      cash = what tier retention carried of purged rows (mbt.retention_carry.cash)
--                             + deposits - withdrawals (CSD, CSW, JNLC, TRANS)
--                             + fills (a buy -qty x price, a sell +qty x price, each to the cent, as the
--                             engine books them) + fees (FEE activities, negative; per-execution fees
--                             have their named place below, 0 until the engine charges any)
--                             + other cash activities (DIV, INT, MISC); canceled activities move nothing;
--   position_qty              each position's qty = what retention carried (mbt.retention_positions.qty)
--                             + the signed qty of its fills;
--   position_avg_entry_price  an open position's avg_entry_price = the average its fills give, folded in time order as
--                             the engine folds them (mbt.position_after, from the carried position), within
--                             0.000001 USD a share (the engine rounds the average to 9 decimals per batch);
--   filled_qty_within_qty     an order's filled_qty <= its qty;
--   filled_qty                an order's filled_qty = the sum of its fills' qty (its fills go only with it);
--   open_order_holds          what the orders hold (buying_power_held) = what buying power reserves for the
--                             open orders (mbt.account_balances.held): an order that is done holds nothing;
--   fill_evidence             each fill keeps the quote it was made on: a copy of a sane quote (bid > 0,
--                             ask > bid, size on the fill's side), not later than the fill, the fill at its
--                             side (buy: the ask, sell: the bid), and equal to md.quotes' row while
--                             market-data retention keeps that row;
--   order_audit               each order's latest audit row (mbt.order_events) shows its status and
--                             filled_qty, and each of its fills has its audit row.
--
-- as_of: rows stamped after it have not happened yet. The stored figures are taken back to as_of by
-- removing what later rows moved (as the end-of-day snapshots do): cash, a position's qty, an order's
-- filled_qty. Those that cannot be taken back are checked only where nothing happened after as_of (a
-- position's average; an order's status). Holds are checked as they stand. Orders created after as_of
-- are not looked at.
--
-- Cost: one pass over every fill, cash activity and order, the latest audit row of each order (backwards
-- on order_events_order) and mbt.account_balances: a nightly job's read (jobs.run_job), not a request's.
create or replace function mbt.check_invariants(as_of timestamptz default now())
returns table (account_id uuid, invariant text, details jsonb)
language sql
stable
security definer
set search_path = ''
as $$
    with
    -- each fill as the cash and the shares it moved, whether it had happened at as_of, and whether it has its audit row
    fill_moves as materialized (
        select
            f.*,
            round(case when f.side = 'buy' then -f.qty * f.price else f.qty * f.price end, 2) as cash,
            case when f.side = 'buy' then f.qty else -f.qty end as shares,
            f.transaction_time <= check_invariants.as_of as done,
            exists (
                select from mbt.order_events as e
                where e.account_id = f.account_id and e.order_id = f.order_id and e.fill_id = f.fill_id
            ) as audited
        from mbt.fills as f
    ),

    fill_cash as (
        select
            m.account_id,
            sum(m.cash) filter (where m.done) as fills,
            -- per-execution fees (commissions, SEC and TAF fees) go here, signed as the cash they move,
            -- once the engine charges them; until then there are none
            0::numeric as execution_fees,
            sum(m.cash) filter (where not m.done) as moved_after
        from fill_moves as m
        group by m.account_id
    ),

    activity_cash as (
        select
            c.account_id,
            sum(c.net_amount) filter (where c.done and c.deposit_or_withdrawal and c.net_amount > 0) as deposits,
            -sum(c.net_amount) filter (where c.done and c.deposit_or_withdrawal and c.net_amount < 0) as withdrawals,
            sum(c.net_amount) filter (where c.done and c.activity_type = 'FEE') as fees,
            sum(c.net_amount) filter (where c.done and c.activity_type in ('DIV', 'INT', 'MISC')) as other,
            sum(c.net_amount) filter (where not c.done) as moved_after
        from (
            select
                x.account_id, x.activity_type, x.net_amount,
                x.activity_type in ('CSD', 'CSW', 'JNLC', 'TRANS') as deposit_or_withdrawal,
                x.activity_at <= check_invariants.as_of as done
            from mbt.cash_activities as x
            where x.status <> 'canceled'
        ) as c
        group by c.account_id
    ),

    cash_ledger as (
        select
            a.account_id,
            a.cash - coalesce(f.moved_after, 0) - coalesce(c.moved_after, 0) as cash,
            coalesce(r.cash, 0) as carried,
            coalesce(c.deposits, 0) as deposits,
            coalesce(c.withdrawals, 0) as withdrawals,
            coalesce(f.fills, 0) as fills,
            coalesce(c.fees, 0) + coalesce(f.execution_fees, 0) as fees,
            coalesce(c.other, 0) as other
        from mbt.accounts as a
        left join mbt.retention_carry as r on a.account_id = r.account_id
        left join fill_cash as f on a.account_id = f.account_id
        left join activity_cash as c on a.account_id = c.account_id
    ),

    -- per account and symbol: what retention carried (as an opening execution), then the fills up to as_of
    share_ledger as (
        select
            x.account_id,
            x.symbol,
            sum(x.shares) filter (where x.done) as qty,
            sum(x.shares) filter (where not x.done) as moved_after,
            mbt.position_after(x.shares, x.price order by x.at, x.quote_id, x.fill_id) filter (where x.done) as state
        from (
            select
                r.account_id, r.symbol, r.qty as shares, r.avg_entry_price as price, '-infinity'::timestamptz as at,
                null::bigint as quote_id, null::uuid as fill_id, true as done
            from mbt.retention_positions as r
            union all
            select m.account_id, m.symbol, m.shares, m.price, m.transaction_time, m.quote_id, m.fill_id, m.done
            from fill_moves as m
        ) as x
        group by x.account_id, x.symbol
    ),

    position_ledger as (
        select
            coalesce(p.account_id, s.account_id) as account_id,
            coalesce(p.symbol, s.symbol) as symbol,
            coalesce(p.qty, 0) - coalesce(s.moved_after, 0) as qty,
            coalesce(s.qty, 0) as fills_qty,
            p.avg_entry_price,
            coalesce((s.state).avg_price, 0) as fills_avg_price,
            -- an average to compare: an open position whose qty its fills explain, untouched after as_of
            p.qty <> 0 and p.qty = coalesce(s.qty, 0) and s.moved_after is null as average_comparable
        from mbt.positions as p
        full join share_ledger as s on p.account_id = s.account_id and p.symbol = s.symbol
    ),

    order_ledger as (
        select
            o.account_id,
            o.order_id,
            o.status,
            o.qty,
            o.filled_qty - coalesce(f.moved_after, 0) as filled_qty,
            coalesce(f.qty, 0) as fills_qty,
            coalesce(f.unaudited, '{}') as unaudited_fills,
            e.event_id,
            e.event,
            e.order_state,
            exists (
                select from mbt.order_events as x
                where x.account_id = o.account_id and x.order_id = o.order_id and x.event_at > check_invariants.as_of
            ) as events_after
        from mbt.orders as o
        left join (
            select
                m.account_id,
                m.order_id,
                sum(m.qty) filter (where m.done) as qty,
                sum(m.qty) filter (where not m.done) as moved_after,
                array_agg(m.fill_id order by m.transaction_time, m.fill_id) filter (where m.done and not m.audited)
                    as unaudited
            from fill_moves as m
            group by m.account_id, m.order_id
        ) as f on o.account_id = f.account_id and o.order_id = f.order_id
        left join lateral (
            select x.event_id, x.event, x.order_state
            from mbt.order_events as x
            where x.account_id = o.account_id and x.order_id = o.order_id and x.event_at <= check_invariants.as_of
            order by x.event_id desc
            limit 1
        ) as e on true
        where o.created_at <= check_invariants.as_of
    ),

    hold_ledger as (
        select
            b.account_id,
            b.held as reserved,
            coalesce(h.held, 0) as held,
            coalesce(h.done_orders_holding, '[]') as done_orders_holding
        from mbt.account_balances as b
        left join (
            select
                o.account_id,
                sum(o.buying_power_held) as held,
                jsonb_agg(jsonb_build_object(
                    'order_id', o.order_id, 'status', o.status, 'buying_power_held', o.buying_power_held
                ) order by o.order_id) filter (where o.buying_power_held <> 0 and mbt.order_status_is_final(o.status))
                    as done_orders_holding
            from mbt.orders as o
            group by o.account_id
        ) as h on b.account_id = h.account_id
    ),

    evidence as (
        select
            m.account_id,
            m.fill_id,
            m.order_id,
            m.side,
            m.price,
            m.quote_id,
            m.quote_time,
            m.transaction_time,
            array_remove(array[
                case when not (m.quote_bid_price > 0 and m.quote_ask_price > m.quote_bid_price)
                    then 'the quote copy is crossed, locked or zero' end,
                case when (case when m.side = 'buy' then m.quote_ask_size else m.quote_bid_size end) <= 0
                    then 'the quote copy shows no size on the fill''s side' end,
                case when m.price <> case when m.side = 'buy' then m.quote_ask_price else m.quote_bid_price end
                    then 'the price is not the quote''s ' || case when m.side = 'buy' then 'ask' else 'bid' end end,
                case when m.quote_time > m.transaction_time then 'the quote is later than the fill' end,
                case when q.quote_id is not null and (
                        q.symbol, q.bid_price, q.ask_price, q.bid_size, q.ask_size, q.bid_exchange, q.ask_exchange
                    ) is distinct from (
                        m.symbol, m.quote_bid_price, m.quote_ask_price, m.quote_bid_size, m.quote_ask_size,
                        m.quote_bid_exchange, m.quote_ask_exchange
                    )
                    then 'the quote copy differs from md.quotes' end
            ], null) as problems,
            jsonb_build_object(
                'bid_price', m.quote_bid_price, 'ask_price', m.quote_ask_price,
                'bid_size', m.quote_bid_size, 'ask_size', m.quote_ask_size
            ) as copy
        from fill_moves as m
        -- one probe of one day's partition per fill (limit 1 keeps it a parameterized look-up: md.quotes is
        -- far larger than the fills, and is never read whole here)
        left join lateral (
            select x.quote_id, x.symbol, x.bid_price, x.ask_price, x.bid_size, x.ask_size, x.bid_exchange, x.ask_exchange
            from md.quotes as x
            where x.quote_id = m.quote_id and x.quote_time = m.quote_time
            limit 1
        ) as q on true
        where m.done
    )

    select c.account_id, 'cash', jsonb_build_object(
        'cash', c.cash,
        'expected', c.carried + c.deposits - c.withdrawals + c.fills + c.fees + c.other,
        'difference', c.cash - (c.carried + c.deposits - c.withdrawals + c.fills + c.fees + c.other),
        'carried', c.carried, 'deposits', c.deposits, 'withdrawals', c.withdrawals, 'fills', c.fills,
        'fees', c.fees, 'other', c.other
    )
    from cash_ledger as c
    where c.cash <> c.carried + c.deposits - c.withdrawals + c.fills + c.fees + c.other

    union all

    select p.account_id, 'position_qty', jsonb_build_object(
        'symbol', p.symbol, 'qty', p.qty, 'fills_qty', p.fills_qty, 'difference', p.qty - p.fills_qty
    )
    from position_ledger as p
    where p.qty <> p.fills_qty

    union all

    select p.account_id, 'position_avg_entry_price', jsonb_build_object(
        'symbol', p.symbol, 'avg_entry_price', p.avg_entry_price, 'fills_avg_price', round(p.fills_avg_price, 9)
    )
    from position_ledger as p
    where p.average_comparable and abs(p.avg_entry_price - p.fills_avg_price) > 0.000001

    union all

    select o.account_id, 'filled_qty_within_qty', jsonb_build_object(
        'order_id', o.order_id, 'qty', o.qty, 'filled_qty', o.filled_qty
    )
    from order_ledger as o
    where o.filled_qty > o.qty or o.filled_qty < 0

    union all

    select o.account_id, 'filled_qty', jsonb_build_object(
        'order_id', o.order_id, 'filled_qty', o.filled_qty, 'fills_qty', o.fills_qty
    )
    from order_ledger as o
    where o.filled_qty <> o.fills_qty

    union all

    select h.account_id, 'open_order_holds', jsonb_build_object(
        'reserved', h.reserved, 'held_by_orders', h.held, 'done_orders_holding', h.done_orders_holding
    )
    from hold_ledger as h
    where h.reserved <> h.held or h.done_orders_holding <> '[]'

    union all

    select e.account_id, 'fill_evidence', jsonb_build_object(
        'fill_id', e.fill_id, 'order_id', e.order_id, 'problems', to_jsonb(e.problems), 'side', e.side, 'price', e.price,
        'quote_id', e.quote_id, 'quote_time', e.quote_time, 'transaction_time', e.transaction_time, 'quote_copy', e.copy
    )
    from evidence as e
    where cardinality(e.problems) > 0

    union all

    select o.account_id, 'order_audit', jsonb_build_object(
        'order_id', o.order_id, 'status', o.status, 'filled_qty', o.filled_qty,
        'audit_event_id', o.event_id, 'audit_event', o.event,
        'audit_status', o.order_state ->> 'status', 'audit_filled_qty', (o.order_state ->> 'filled_qty')::numeric,
        'fills_without_audit_row', to_jsonb(o.unaudited_fills)
    )
    from order_ledger as o
    where o.event_id is null
        or (not o.events_after and o.order_state ->> 'status' is distinct from o.status::text)
        or (o.order_state ->> 'filled_qty')::numeric is distinct from o.filled_qty
        or cardinality(o.unaudited_fills) > 0

    order by 1, 2, 3
$$;
comment on function mbt.check_invariants(timestamptz) is $$The ledger's truths at as_of, for every account: one row per
violation (account_id, invariant, details with the figures), none when all hold. cash = carried + deposits - withdrawals
+ fills + fees + other activities; each position's qty (and average) = carried + its fills; an order's filled_qty <= qty
and = its fills; what orders hold = what buying power reserves for open orders; each fill keeps a sane copy of the quote
it was made on, at its side; each order's latest audit row shows its status and filled_qty, and each fill has its row.
Rows stamped after as_of have not happened; stored figures are taken back to as_of. For DBAs, analysts and the nightly
job (jobs.run_job('check_invariants', as_of)), not for HTTP callers.$$;
