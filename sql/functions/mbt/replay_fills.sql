-- Replay: re-run the fill engine over the stored quotes for one account's orders submitted in
-- [p_from, p_to), and report every fill that differs from the recorded one. Nothing is kept: the
-- replay runs in a subtransaction that is always rolled back.
--
-- The engine is batch-invariant for quotes that arrive in time order (it evaluates each batch in
-- quote-time order and carries fills, triggers and partial quantities across batches), so the
-- replay feeds the quotes in time order, in chunks. Each order starts as it was submitted: the
-- stream runs up to its submission, then the order has its immediate evaluation against the latest
-- quote it could see (quote_time and received_at not after its submission), after the orders that
-- quote reached when it arrived (they took of its size first); a cancel or replace ends its life
-- where it did.
create or replace function mbt.replay_fills(p_account_id uuid, p_from timestamptz, p_to timestamptz)
returns table (
    difference text, order_id uuid, quote_id bigint,
    recorded_qty numeric, replayed_qty numeric, recorded_price numeric, replayed_price numeric,
    recorded_rule text, replayed_rule text
)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    c_chunk constant integer := 10000;
    v_recorded jsonb;
    v_replayed jsonb;
    v_order record;
    v_chunk md.quotes[];
    v_last_time timestamptz := '-infinity'::timestamptz;
    v_last_id bigint := 0;
    v_orders uuid[];
begin
    select array_agg(o.order_id) into v_orders
    from mbt.orders as o
    where o.account_id = p_account_id and o.submitted_at >= p_from and o.submitted_at < p_to
        and not (o.time_in_force = 'fok' and o.filled_qty = 0);
    select coalesce(jsonb_agg(to_jsonb(f)), '[]') into v_recorded
    from mbt.fills as f where f.account_id = p_account_id and f.order_id = any(v_orders);

    begin
        -- the orders as submitted; a cancel or replace ends their life where it happened
        delete from mbt.fills as f where f.account_id = p_account_id and f.order_id = any(v_orders);
        -- a live trailing stop's mark row first: the order would take the mark the row has reached
        -- (mbt.take_trailing_mark); it trails on its own in the replay, riding no shared mark
        update mbt.trailing_marks as m
        set hwm = x.hwm, stop_price = mbt.trailing_stop_price(m.side, x.hwm, m.trail_price, m.trail_percent),
            moved_at = null, rides = false
        from (
            select o.account_id, o.order_id, case when o.side = 'sell' then o.submitted_bid else o.submitted_ask end as hwm
            from mbt.orders as o
            where o.account_id = p_account_id and o.order_id = any(v_orders)
        ) as x
        where m.account_id = x.account_id and m.order_id = x.order_id;
        update mbt.orders as o
        set status = case when o.status in ('accepted') then 'accepted' else 'new' end::mbt.order_status,
            filled_qty = 0, filled_avg_price = null, filled_at = null, stop_triggered_at = null,
            -- a trailing stop trails from the quote it was submitted on (its submitted bid or ask) again
            hwm = case when o.order_type <> 'trailing_stop' then o.hwm
                when o.side = 'sell' then o.submitted_bid else o.submitted_ask end,
            expires_at = least(coalesce(o.expires_at, 'infinity'), o.canceled_at, o.replaced_at)
        where o.account_id = p_account_id and o.order_id = any(v_orders);
        -- positions as they were before the first replayed fill: what tier retention carried of the
        -- purged fills (mbt.retention_positions) as an opening execution, then the remaining fills
        delete from mbt.positions as p where p.account_id = p_account_id;
        insert into mbt.positions (account_id, symbol, asset_id, asset_class, qty, avg_entry_price, realized_pl,
            opened_at, updated_at)
        select
            f.account_id, f.symbol,
            coalesce(min(o.asset_id::text)::uuid, min(a.asset_id::text)::uuid),
            coalesce(min(o.asset_class::text), min(a.asset_class::text), 'us_equity')::md.asset_class,
            (mbt.position_after(f.qty, f.price order by f.at, f.seq)).qty,
            (mbt.position_after(f.qty, f.price order by f.at, f.seq)).avg_price,
            0, min(f.at), max(f.at)
        from (
            select x.account_id, x.order_id, x.symbol, case when x.side = 'buy' then x.qty else -x.qty end as qty,
                x.price, x.transaction_time as at, x.cum_qty as seq
            from mbt.fills as x
            where x.account_id = p_account_id
            union all
            select r.account_id, null, r.symbol, r.qty, r.avg_entry_price, '-infinity', 0
            from mbt.retention_positions as r
            where r.account_id = p_account_id and r.qty <> 0
        ) as f
        left join mbt.orders as o on f.account_id = o.account_id and f.order_id = o.order_id
        left join md.assets as a on f.symbol = a.symbol
        group by f.account_id, f.symbol
        having coalesce(min(o.asset_id::text), min(a.asset_id::text)) is not null;

        -- the stream up to each order's submission, then the order's immediate evaluation: as live, the
        -- orders resting when a quote arrived took of its size before an order submitted on it later; the
        -- last pass (no order) feeds the rest of the stream
        for v_order in
            select o.order_id, o.symbol, o.submitted_at, o.time_in_force
            from mbt.orders as o
            where o.account_id = p_account_id and o.order_id = any(v_orders)
            union all
            select null, null, p_to, null
            order by 3, 1 nulls last
        loop
            loop
                v_chunk := array(
                    select q from md.quotes as q
                    where q.symbol in (
                        select o.symbol from mbt.orders as o where o.account_id = p_account_id and o.order_id = any(v_orders)
                    )
                        and q.quote_time >= p_from and q.quote_time < least(v_order.submitted_at, p_to)
                        and (q.quote_time, q.quote_id) > (v_last_time, v_last_id)
                    order by q.quote_time, q.quote_id
                    limit c_chunk
                );
                exit when cardinality(v_chunk) = 0;
                perform mbt.fill_orders(v_chunk, array(select (p_account_id, u)::mbt.order_ref from unnest(v_orders) as u), null);
                v_last_time := v_chunk[cardinality(v_chunk)].quote_time;
                v_last_id := v_chunk[cardinality(v_chunk)].quote_id;
            end loop;
            if v_order.order_id is not null and v_order.time_in_force not in ('opg', 'cls') then
                perform mbt.fill_orders(array(
                    select q from md.quotes as q
                    where q.symbol = v_order.symbol and q.quote_time <= v_order.submitted_at
                        and q.received_at <= v_order.submitted_at
                    order by q.quote_time desc, q.quote_id desc
                    limit 1
                ), array[(p_account_id, v_order.order_id)::mbt.order_ref], v_order.submitted_at);
            end if;
        end loop;

        select coalesce(jsonb_agg(to_jsonb(f)), '[]') into v_replayed
        from mbt.fills as f where f.account_id = p_account_id and f.order_id = any(v_orders);
        raise exception using errcode = 'MBX00', message = 'replay done';
    exception when sqlstate 'MBX00' then
        null;  -- everything the replay wrote is rolled back; the two fill lists stay
    end;

    return query
    with recorded as (
        select (r ->> 'order_id')::uuid as order_id, (r ->> 'quote_id')::bigint as quote_id,
            (r ->> 'qty')::numeric as qty, (r ->> 'price')::numeric as price, r ->> 'rule' as rule
        from jsonb_array_elements(v_recorded) as r
    ),
    replayed as (
        select (r ->> 'order_id')::uuid as order_id, (r ->> 'quote_id')::bigint as quote_id,
            (r ->> 'qty')::numeric as qty, (r ->> 'price')::numeric as price, r ->> 'rule' as rule
        from jsonb_array_elements(v_replayed) as r
    )
    select
        case when a.order_id is null then 'extra' when b.order_id is null then 'missing' else 'different' end,
        coalesce(a.order_id, b.order_id), coalesce(a.quote_id, b.quote_id),
        a.qty, b.qty, a.price, b.price, a.rule, b.rule
    from recorded as a
    full join replayed as b on a.order_id = b.order_id and a.quote_id = b.quote_id
    where a.order_id is null or b.order_id is null
        or (a.qty, a.price, a.rule) is distinct from (b.qty, b.price, b.rule)
    order by 2, 3;
end;
$$;
comment on function mbt.replay_fills(uuid, timestamptz, timestamptz) is $$Replay the engine over stored quotes
for an account's orders submitted in [p_from, p_to).
Returns every fill that differs (missing, extra or different); no rows means the replay reproduced every fill. Writes nothing.$$;
