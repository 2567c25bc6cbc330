-- Alpaca's trade_updates message for an order event (alpaca.md 6.4): event, order, timestamp and,
-- for executions, price, qty (of this execution), position_qty (after it) and execution_id.
-- account_id routes it to the account's stream; it is not part of Alpaca's payload.
create or replace function mbt.trade_update(
    p_event text, p_order jsonb, p_account_id uuid, p_at timestamptz,
    p_price numeric default null, p_qty numeric default null, p_position_qty numeric default null,
    p_execution_id uuid default null
)
returns jsonb
language sql
stable  -- not immutable: timestamptz to JSON depends on TimeZone; stable, it is inlined where it is called
as $$
    select jsonb_strip_nulls(jsonb_build_object(
        'account_id', p_account_id,
        'event', p_event,
        'timestamp', p_at,
        'price', trim_scale(p_price)::text,
        'qty', trim_scale(p_qty)::text,
        'position_qty', trim_scale(p_position_qty)::text,
        'execution_id', p_execution_id
    )) || jsonb_build_object('order', p_order)
$$;
comment on function mbt.trade_update(text, jsonb, uuid, timestamptz, numeric, numeric, numeric, uuid) is
'An order event as Alpaca''s trade_updates message (plus account_id for routing).';

-- The row pgmq.send_batch('trade_updates', ...) writes (visible at once: vt = clock_timestamp()), inserted
-- here directly: send_batch goes through four function layers down to a dynamic INSERT that PostgreSQL
-- parses and plans again on every call (0.15 ms of every submission); this INSERT keeps its plan.
create or replace function mbt.publish_trade_updates(p_messages jsonb[])
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
    insert into pgmq.q_trade_updates (vt, message)
    select clock_timestamp(), m.message
    from unnest(p_messages) as m (message);
    return coalesce(cardinality(p_messages), 0);
end;
$$;
comment on function mbt.publish_trade_updates(jsonb[]) is
'Send trade_updates messages to the pgmq queue trade_updates, in the caller''s transaction.';
