-- Expiry (alpaca.md 1.3): an open order whose time is up becomes expired, its buying-power hold is
-- released, and an audit row and a trade update (event expired) go out, as a cancel does
-- (mbt.cancel_order_row) but for every due order in one statement. The time is the order's
-- expires_at, stamped at submission from md.market_calendar: the close of its session for day orders
-- (16:00 ET, 13:00 ET on early-close days; the end of after-hours, 20:00 ET or 17:00 ET after an
-- early close, for extended_hours orders), the first minute of the session for opg (the opening
-- auction window), the close for cls, and 16:15 ET 90 days after creation for gtc. The fill engine
-- takes no quote at or after expires_at, so expiring later than that changes nothing but the status.
-- Fills are kept: a partially filled order expires with what it filled. expired_at is the order's
-- expires_at, not the time the job ran, so a late or repeated run writes the same thing; a repeated
-- run finds nothing open and due, and changes nothing.
create or replace function mbt.expire_orders(p_as_of timestamptz, p_time_in_force mbt.time_in_force[])
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_expired integer;
begin
    with
    due as (
        select o.account_id, o.order_id
        from mbt.orders as o
        where o.expires_at <= p_as_of
            and o.status in ('new', 'partially_filled', 'accepted', 'held', 'pending_new')
            and o.time_in_force = any(p_time_in_force)
        order by o.account_id, o.order_id
        for update
    ),

    expired as (
        update mbt.orders as o
        set status = 'expired', expired_at = o.expires_at, updated_at = o.expires_at, buying_power_held = 0
        from due as d
        where o.account_id = d.account_id and o.order_id = d.order_id
        returning o.*
    ),

    events as (
        insert into mbt.order_events as e (account_id, order_id, event, event_at, order_state)
        select x.account_id, x.order_id, 'expired', x.expired_at, mbt.order_json(x)
        from expired as x
        returning e.account_id, e.order_id, e.event_at, e.order_state
    )

    select mbt.publish_trade_updates(coalesce(array_agg(
        mbt.trade_update('expired', ev.order_state, ev.account_id, ev.event_at)
        order by ev.event_at, ev.account_id, ev.order_id
    ), '{}'))
    into v_expired
    from events as ev;
    return v_expired;
end;
$$;
comment on function mbt.expire_orders(timestamptz, mbt.time_in_force[]) is
'Expire every open order of the given times in force whose expires_at is at or before p_as_of (hold released, audit, trade update); returns how many.';

create or replace function mbt.expire_day_orders(p_as_of timestamptz)
returns integer
language sql
volatile
security definer
set search_path = ''
as $$
    select mbt.expire_orders(p_as_of, array['day', 'opg', 'cls']::mbt.time_in_force [])
$$;
comment on function mbt.expire_day_orders(timestamptz) is
'Expire the day, opg and cls orders whose session (or auction window) ended at or before p_as_of; idempotent.';

create or replace function mbt.expire_gtc_orders(p_as_of timestamptz)
returns integer
language sql
volatile
security definer
set search_path = ''
as $$
    select mbt.expire_orders(p_as_of, array['gtc']::mbt.time_in_force [])
$$;
comment on function mbt.expire_gtc_orders(timestamptz) is
'Expire the gtc orders 90 days after creation (their expires_at, 16:15 ET) at or before p_as_of; idempotent.';
