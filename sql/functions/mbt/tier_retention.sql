-- Tier retention: a user's orders (with their fills and audit trail), cash activities and end-of-day
-- snapshots of New York days older than their tier keeps (jobs.tier_retention) are removed, in short
-- batches (jobs/tier_retention.py drives them; each call is one transaction). The cut-off of an account
-- is its tier's as it stands when the batch runs: an upgrade stops the purge at the next batch, a
-- downgrade applies the shorter history at the next run.
--
-- Nothing the retained state depends on goes, and what the purged rows meant is carried forward first:
--   - balances, positions (avg_entry_price, realized_pl) are stored state: purging history leaves them;
--   - an order goes only when it is done (filled, canceled, expired, replaced, rejected), last changed
--     before the cut-off, and so is every order that replaced it and every order of its group (an open
--     bracket keeps its filled entry, fills and audit rows included);
--   - its fills and audit rows (mbt.order_events) go with it, in the same statement;
--   - mbt.retention_carry keeps the purged deposits and withdrawals (net deposits to date: portfolio
--     history, end-of-day snapshots) and the latest purged account snapshot (portfolio history's
--     base_value when its first point follows it);
--   - mbt.retention_positions keeps what the purged fills add up to per symbol (replay starts there);
--   - mbt.retention_carry.cash keeps the cash the purged fills and activities moved (mbt.check_invariants:
--     cash = that + what the kept ones moved).
-- Settlement (T+1) reads the last week's fills only, and every tier keeps at least a week.

-- The orders whose terminal status is final: the only ones retention may remove.
create or replace function mbt.order_status_is_final(p_status mbt.order_status)
returns boolean
language sql
immutable
parallel safe
as $$
    select p_status in ('filled', 'canceled', 'expired', 'replaced', 'rejected')
$$;
comment on function mbt.order_status_is_final(mbt.order_status) is
'True for filled, canceled, expired, replaced and rejected: an order that will not change again.';

-- Whether an order's history may go at p_cutoff: it, every order that replaced it (forward along
-- replaced_by) and every order of their groups are final and last changed before p_cutoff.
create or replace function mbt.order_history_expired(p_account_id uuid, p_order_id uuid, p_cutoff timestamptz)
returns boolean
language sql
stable
set search_path = ''
as $$
    with recursive chain as (
        select o.order_id, o.replaced_by, o.group_id, o.status, o.updated_at
        from mbt.orders as o
        where o.account_id = p_account_id and o.order_id = p_order_id
        union all
        select n.order_id, n.replaced_by, n.group_id, n.status, n.updated_at
        from chain as c
        inner join mbt.orders as n on n.account_id = p_account_id and c.replaced_by = n.order_id
    )

    select exists (select from chain) and not exists (
        select from chain as c
        where not mbt.order_status_is_final(c.status) or c.updated_at >= p_cutoff
            or exists (
                select from mbt.orders as g
                where g.account_id = p_account_id and g.group_id = c.group_id
                    and (not mbt.order_status_is_final(g.status) or g.updated_at >= p_cutoff)
            )
    )
$$;
comment on function mbt.order_history_expired(uuid, uuid, timestamptz) is
$$True when the order, the orders that replaced it and the orders of their groups are all final and last changed
before p_cutoff: the order may be purged (nothing retained needs it).$$;

-- The accounts a run at p_as_of has something to purge from: a tier with a bounded history, and a row
-- older than its cut-off (open orders included: the batch then decides they stay).
create or replace function mbt.tier_retention_due(p_as_of timestamptz)
returns table (account_id uuid)
language sql
stable
security definer
set search_path = ''
as $$
    select a.account_id
    from mbt.accounts as a
    inner join auth.users as u on a.user_id = u.user_id
    inner join jobs.tier_retention as r on u.tier = r.tier
    cross join lateral (
        select ((p_as_of at time zone 'America/New_York')::date - r.history)::date as cutoff_day
    ) as d
    cross join lateral (
        select d.cutoff_day::timestamp at time zone 'America/New_York' as cutoff_at
    ) as c
    where r.history is not null and (
        exists (select from mbt.orders as o where o.account_id = a.account_id and o.created_at < c.cutoff_at)
        or exists (
            select from mbt.cash_activities as x where x.account_id = a.account_id and x.activity_at < c.cutoff_at
        )
        or exists (
            select from mbt.account_snapshots as s where s.account_id = a.account_id and s.trading_date < d.cutoff_day
        )
        or exists (
            select from mbt.position_snapshots as s where s.account_id = a.account_id and s.trading_date < d.cutoff_day
        )
    )
    order by a.account_id
$$;
comment on function mbt.tier_retention_due(timestamptz) is
'The accounts with rows older than their tier keeps at p_as_of (candidates of a tier-retention run), in account order.';

-- One batch: for each account of p_account_ids, at most p_limit orders (with their fills and audit
-- rows), p_limit cash activities, p_limit account and p_limit position snapshots, oldest first, in one
-- statement. Returns per account what it removed and whether more may be left (a limit was reached).
create or replace function mbt.purge_expired_history(p_account_ids uuid[], p_as_of timestamptz, p_limit integer default 1000)
returns table (account_id uuid, removed bigint, more boolean)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_today date := (p_as_of at time zone 'America/New_York')::date;
begin
    if p_as_of is null or p_limit is null or p_limit < 1 then
        perform mbt.raise_error('MBV03', 'Invalid tier-retention parameters.',
            format('as_of = %s, limit = %s', p_as_of, p_limit), 'as_of is required; limit at least 1.');
    end if;
    -- the audit trail's append-only trigger lets the rows of the orders removed here go with them
    perform set_config('mbt.retention_purge', 'on', true);

    return query
    with
    scope as (
        select a.account_id, u.tier, r.history, d.cutoff_day, d.cutoff_day::timestamp at time zone 'America/New_York' as cutoff_at
        from (select distinct i.account_id from unnest(p_account_ids) as i (account_id)) as i
        inner join mbt.accounts as a on i.account_id = a.account_id
        inner join auth.users as u on a.user_id = u.user_id
        inner join jobs.tier_retention as r on u.tier = r.tier
        cross join lateral (select (v_today - r.history)::date as cutoff_day) as d
        where r.history is not null
    ),

    doomed_orders as (
        select s.account_id, o.order_id
        from scope as s
        cross join lateral (
            select o.order_id
            from mbt.orders as o
            where o.account_id = s.account_id and o.created_at < s.cutoff_at and o.updated_at < s.cutoff_at
                and mbt.order_status_is_final(o.status)
                -- a simple order that nothing replaced is decided by itself (no per-order look-up)
                and (
                    (o.group_id is null and o.replaced_by is null)
                    or mbt.order_history_expired(o.account_id, o.order_id, s.cutoff_at)
                )
            order by o.created_at
            limit p_limit
        ) as o
    ),

    event_counts as (
        select d.account_id, count(*) as n
        from doomed_orders as d
        inner join mbt.order_events as e on d.account_id = e.account_id and d.order_id = e.order_id
        group by d.account_id
    ),

    gone_fills as (
        delete from mbt.fills as f
        using doomed_orders as d
        where f.account_id = d.account_id and f.order_id = d.order_id
        returning f.account_id, f.symbol, f.side, f.qty, f.price, f.transaction_time, f.cum_qty
    ),

    -- the audit rows go by the orders' cascade, at the end of this statement
    gone_orders as (
        delete from mbt.orders as o
        using doomed_orders as d
        where o.account_id = d.account_id and o.order_id = d.order_id
        returning o.account_id
    ),

    gone_cash as (
        delete from mbt.cash_activities as c
        using (
            select s.account_id, x.activity_id
            from scope as s
            cross join lateral (
                select x.activity_id from mbt.cash_activities as x
                where x.account_id = s.account_id and x.activity_at < s.cutoff_at
                order by x.activity_at, x.activity_id
                limit p_limit
            ) as x
        ) as d
        where c.account_id = d.account_id and c.activity_id = d.activity_id
        returning c.account_id, c.activity_type, c.status, c.net_amount
    ),

    gone_account_snapshots as (
        delete from mbt.account_snapshots as a
        using (
            select s.account_id, x.trading_date
            from scope as s
            cross join lateral (
                select x.trading_date from mbt.account_snapshots as x
                where x.account_id = s.account_id and x.trading_date < s.cutoff_day
                order by x.trading_date
                limit p_limit
            ) as x
        ) as d
        where a.account_id = d.account_id and a.trading_date = d.trading_date
        returning a.account_id, a.trading_date, a.equity, a.net_deposits
    ),

    gone_position_snapshots as (
        delete from mbt.position_snapshots as p
        using (
            select s.account_id, x.trading_date, x.symbol
            from scope as s
            cross join lateral (
                select x.trading_date, x.symbol from mbt.position_snapshots as x
                where x.account_id = s.account_id and x.trading_date < s.cutoff_day
                order by x.trading_date, x.symbol
                limit p_limit
            ) as x
        ) as d
        where p.account_id = d.account_id and p.trading_date = d.trading_date and p.symbol = d.symbol
        returning p.account_id
    ),

    -- what the purged fills add up to, after what earlier purges carried (as an opening execution)
    folded as (
        select x.account_id, x.symbol, mbt.position_after(x.qty, x.price order by x.at, x.seq) as state
        from (
            select rp.account_id, rp.symbol, rp.qty, rp.avg_entry_price as price, '-infinity'::timestamptz as at,
                0::numeric as seq
            from mbt.retention_positions as rp
            where rp.qty <> 0 and (rp.account_id, rp.symbol) in (select g.account_id, g.symbol from gone_fills as g)
            union all
            select g.account_id, g.symbol, case when g.side = 'buy' then g.qty else -g.qty end, g.price,
                g.transaction_time, g.cum_qty
            from gone_fills as g
        ) as x
        group by x.account_id, x.symbol
    ),

    carried_positions as (
        insert into mbt.retention_positions as rp (account_id, symbol, qty, avg_entry_price, realized_pl)
        select f.account_id, f.symbol, (f.state).qty, (f.state).avg_price, (f.state).realized_pl
        from folded as f
        on conflict on constraint retention_positions_pkey do update
        set qty = excluded.qty,
            avg_entry_price = excluded.avg_entry_price,
            realized_pl = rp.realized_pl + excluded.realized_pl
        returning 1
    ),

    counts as (
        select
            s.account_id, s.tier, s.history, s.cutoff_day,
            coalesce((select count(*) from gone_orders as g where g.account_id = s.account_id), 0) as orders,
            coalesce((select e.n from event_counts as e where e.account_id = s.account_id), 0) as order_events,
            coalesce((select count(*) from gone_fills as g where g.account_id = s.account_id), 0) as fills,
            coalesce((select count(*) from gone_cash as g where g.account_id = s.account_id), 0) as cash_activities,
            coalesce((select count(*) from gone_account_snapshots as g where g.account_id = s.account_id), 0)
                as account_snapshots,
            coalesce((select count(*) from gone_position_snapshots as g where g.account_id = s.account_id), 0)
                as position_snapshots,
            (
                select sum(g.net_amount) from gone_cash as g
                where g.account_id = s.account_id and g.activity_type in ('CSD', 'CSW', 'JNLC', 'TRANS')
                    and g.status <> 'canceled'
            ) as net_deposits,
            -- the cash the purged rows moved: their fills (to the cent each, as booked) and activities
            coalesce((
                select sum(round(case when g.side = 'buy' then -g.qty * g.price else g.qty * g.price end, 2))
                from gone_fills as g
                where g.account_id = s.account_id
            ), 0) + coalesce((
                select sum(g.net_amount) from gone_cash as g
                where g.account_id = s.account_id and g.status <> 'canceled'
            ), 0) as cash,
            b.trading_date as base_date,
            b.equity as base_equity,
            b.net_deposits as base_net_deposits
        from scope as s
        left join lateral (
            select g.trading_date, g.equity, g.net_deposits
            from gone_account_snapshots as g
            where g.account_id = s.account_id
            order by g.trading_date desc
            limit 1
        ) as b on true
    ),

    removed as (
        select
            c.*,
            c.orders + c.order_events + c.fills + c.cash_activities + c.account_snapshots + c.position_snapshots
                as total
        from counts as c
    ),

    carried as (
        insert into mbt.retention_carry as rc (
            account_id, purged_before, net_deposits, cash, base_date, base_equity, base_net_deposits, updated_at
        )
        select
            r.account_id, r.cutoff_day, coalesce(r.net_deposits, 0), r.cash, r.base_date, r.base_equity,
            r.base_net_deposits, p_as_of
        from removed as r
        where r.total > 0
        on conflict on constraint retention_carry_pkey do update
        set purged_before = greatest(rc.purged_before, excluded.purged_before),
            net_deposits = rc.net_deposits + excluded.net_deposits,
            cash = rc.cash + excluded.cash,
            base_date = case when excluded.base_date > rc.base_date or rc.base_date is null
                then excluded.base_date else rc.base_date end,
            base_equity = case when excluded.base_date > rc.base_date or rc.base_date is null
                then excluded.base_equity else rc.base_equity end,
            base_net_deposits = case when excluded.base_date > rc.base_date or rc.base_date is null
                then excluded.base_net_deposits else rc.base_net_deposits end,
            updated_at = excluded.updated_at
        returning 1
    ),

    logged as (
        insert into jobs.tier_retention_log as l (
            account_id, as_of, tier, history, cutoff_day, orders, order_events, fills, cash_activities,
            account_snapshots, position_snapshots, batches, started_at, finished_at
        )
        select
            r.account_id, p_as_of, r.tier, r.history, r.cutoff_day, r.orders, r.order_events, r.fills,
            r.cash_activities, r.account_snapshots, r.position_snapshots, 1, clock_timestamp(), clock_timestamp()
        from removed as r
        where r.total > 0
        on conflict on constraint tier_retention_log_pkey do update
        set tier = excluded.tier,
            history = excluded.history,
            cutoff_day = excluded.cutoff_day,
            orders = l.orders + excluded.orders,
            order_events = l.order_events + excluded.order_events,
            fills = l.fills + excluded.fills,
            cash_activities = l.cash_activities + excluded.cash_activities,
            account_snapshots = l.account_snapshots + excluded.account_snapshots,
            position_snapshots = l.position_snapshots + excluded.position_snapshots,
            batches = l.batches + 1,
            finished_at = excluded.finished_at
        returning 1
    )

    select
        r.account_id,
        r.total,
        (select count(*) from doomed_orders as d where d.account_id = r.account_id) >= p_limit
        or greatest(r.cash_activities, r.account_snapshots, r.position_snapshots) >= p_limit
    from removed as r;
    perform set_config('mbt.retention_purge', 'off', true);
end;
$$;
comment on function mbt.purge_expired_history(uuid[], timestamptz, integer) is
$$One tier-retention batch at p_as_of for the accounts p_account_ids: removes, per account, at most p_limit expired orders
(with their fills and audit rows), cash activities, account and position snapshots older than the tier keeps, carries
forward what the retained figures depend on, and adds the counts to jobs.tier_retention_log. Returns per account the rows
removed and whether more may be left. Accounts of tiers that keep everything are left alone.$$;

-- After the batches: the queued (or archived) trade_updates messages of orders that are gone, counted
-- in the run's log rows. Messages of live orders stay, whatever their age.
create or replace function mbt.purge_orphan_trade_updates(p_as_of timestamptz)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_rows bigint;
begin
    with
    gone as (
        delete from pgmq.q_trade_updates as q
        where q.message ? 'account_id' and q.message -> 'order' ? 'id' and not exists (
            select from mbt.orders as o
            where o.account_id = (q.message ->> 'account_id')::uuid and o.order_id = (q.message -> 'order' ->> 'id')::uuid
        )
        returning (q.message ->> 'account_id')::uuid as account_id
    ),

    gone_archived as (
        delete from pgmq.a_trade_updates as q
        where q.message ? 'account_id' and q.message -> 'order' ? 'id' and not exists (
            select from mbt.orders as o
            where o.account_id = (q.message ->> 'account_id')::uuid and o.order_id = (q.message -> 'order' ->> 'id')::uuid
        )
        returning (q.message ->> 'account_id')::uuid as account_id
    ),

    per_account as (
        select g.account_id, count(*) as n
        from (select account_id from gone union all select account_id from gone_archived) as g
        group by g.account_id
    ),

    logged as (
        update jobs.tier_retention_log as l
        set trade_updates = l.trade_updates + p.n, finished_at = clock_timestamp()
        from per_account as p
        where l.account_id = p.account_id and l.as_of = p_as_of
        returning 1
    )

    select coalesce(sum(p.n), 0) into v_rows
    from per_account as p;
    return v_rows;
end;
$$;
comment on function mbt.purge_orphan_trade_updates(timestamptz) is
'Delete the queued and archived trade_updates messages whose order no longer exists; counted in the run''s log rows.';

-- A whole run in the caller's transaction (jobs.run_job, small databases, tests): every due account in
-- batches of p_accounts accounts, until nothing is left, then the orphaned messages. The scheduler
-- runs jobs/tier_retention.py instead, which commits each batch on its own.
create or replace function mbt.apply_tier_retention(p_as_of timestamptz, p_limit integer default 1000)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    c_accounts constant integer := 100;
    v_pending uuid[];
    v_batch uuid[];
    v_total bigint := 0;
    v_more uuid[];
    v_removed bigint;
begin
    v_pending := array(select d.account_id from mbt.tier_retention_due(p_as_of) as d);
    while cardinality(v_pending) > 0 loop
        v_batch := v_pending[1:c_accounts];
        v_pending := v_pending[c_accounts + 1:];
        select coalesce(sum(r.removed), 0), coalesce(array_agg(r.account_id) filter (where r.more), '{}')
        into v_removed, v_more
        from mbt.purge_expired_history(v_batch, p_as_of, p_limit) as r;
        v_total := v_total + v_removed;
        v_pending := v_pending || v_more;
    end loop;
    return v_total + mbt.purge_orphan_trade_updates(p_as_of);
end;
$$;
comment on function mbt.apply_tier_retention(timestamptz, integer) is
$$Tier retention at p_as_of in the caller's transaction: every due account (mbt.tier_retention_due), batch after batch,
then the trade_updates messages of removed orders. Returns the rows removed (0 on a repeat).$$;
