-- Replace an open order (Alpaca's PATCH /v2/orders/{id}; alpaca.md 1.9): a new order with a new id,
-- made from the old one and the fields sent (qty, time_in_force, limit_price, stop_price,
-- client_order_id: the new order's, generated when not sent, as at Alpaca; the old order keeps its
-- own); the old one becomes replaced (replaced_by), the new one carries replaces. The
-- new order goes through every check of a submission, with the old order's hold already released;
-- if it is rejected, nothing changes. In a bracket, oco or oto group: an exit takes new prices only
-- (the group keeps its quantity, and the take-profit must stay beyond the stop-loss); a new entry
-- joins the group and its exits follow it; an oto cannot be replaced (as at Alpaca). A trailing
-- stop takes a new trail (in the unit it has) and trails from the latest quote.
create or replace function mbt.replace_order(p_account_id uuid, p_order_id uuid, p_changes jsonb, p_as_of timestamptz)
returns mbt.orders
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    c_fields constant text[] := array['qty', 'time_in_force', 'limit_price', 'stop_price', 'trail', 'client_order_id'];
    v_field text;
    v_old mbt.orders;
    v_new mbt.orders;
    v_take_profit numeric;
    v_stop_loss numeric;
begin
    if jsonb_typeof(p_changes) is distinct from 'object' then
        perform mbt.raise_error('MBV03', 'The changes must be a JSON object.', null, 'E.g. {"limit_price": "101.50"}.');
    end if;
    select k into v_field from jsonb_object_keys(p_changes) as k where k <> all(c_fields) limit 1;
    if v_field is not null then
        perform mbt.raise_error('MBV05', format('Unknown field ''%s''.', v_field), null,
            format('A replace takes: %s.', array_to_string(c_fields, ', ')));
    end if;
    perform from mbt.accounts as a where a.account_id = p_account_id for update;
    select * into v_old from mbt.orders as o where o.account_id = p_account_id and o.order_id = p_order_id for update;
    if not found then
        perform mbt.raise_error('MBO14', 'order not found', format('id = %s', p_order_id),
            'List your orders with GET /api/orders.');
    end if;
    if v_old.status not in ('new', 'partially_filled', 'accepted')
        and not (v_old.status = 'held' and v_old.leg in ('take_profit', 'stop_loss'))
        or v_old.notional is not null
        or v_old.order_class = 'oto' then
        perform mbt.raise_error('MBO15', format('order is not replaceable: it is %s%s', v_old.status,
            case when v_old.notional is not null then ', a notional order'
                when v_old.order_class = 'oto' then ', part of an oto order' else '' end),
            format('id = %s', p_order_id), 'Cancel it and submit a new order instead.');
    end if;
    if p_changes ? 'trail' and v_old.order_type <> 'trailing_stop' then
        perform mbt.raise_error('MBO06', format('A %s order takes no trail.', v_old.order_type), null,
            'trail changes trailing_stop orders only.');
    end if;

    if v_old.leg in ('take_profit', 'stop_loss') then
        -- an exit: new prices only; the new exit takes the old one's place in the group
        select k into v_field from jsonb_object_keys(p_changes) as k
        where k not in ('limit_price', 'stop_price', 'client_order_id') limit 1;
        if v_field is not null or v_old.order_type = 'limit' and p_changes ? 'stop_price' then
            perform mbt.raise_error('MBO19', format('An exit of a %s order takes new prices only, not %s.',
                v_old.order_class, coalesce(v_field, 'stop_price')), format('leg = %s', v_old.leg),
                case when v_old.order_type = 'limit' then 'Send limit_price.' else 'Send stop_price and/or limit_price.' end);
        end if;
        if v_old.order_type = 'stop' and p_changes ? 'limit_price' then
            perform mbt.raise_error('MBO06', 'A stop order takes no limit_price.', format('leg = %s', v_old.leg),
                'Send stop_price.');
        end if;
        v_new := v_old;
        v_new.order_id := gen_random_uuid();
        v_new.client_order_id := coalesce(mbt.request_client_order_id(p_changes), v_new.order_id::text);
        if exists (
            select from mbt.orders as o where o.account_id = p_account_id and o.client_order_id = v_new.client_order_id
        ) then
            perform mbt.raise_error('MBO09', 'client_order_id must be unique.',
                format('client_order_id = %s', v_new.client_order_id),
                'Send another client_order_id for the new order, or none to have one generated.');
        end if;
        -- each price read, then checked (mbt.check_order_price is inlined on a variable)
        v_new.limit_price := mbt.request_numeric(p_changes, 'limit_price');
        v_new.limit_price := coalesce(mbt.check_order_price('limit_price', v_new.limit_price), v_old.limit_price);
        v_new.stop_price := mbt.request_numeric(p_changes, 'stop_price');
        v_new.stop_price := coalesce(mbt.check_order_price('stop_price', v_new.stop_price), v_old.stop_price);
        select
            max(case when o.leg = 'take_profit' then o.limit_price end),
            max(case when o.leg = 'stop_loss' then o.stop_price end)
        into v_take_profit, v_stop_loss
        from (
            select x.leg, x.limit_price, x.stop_price from mbt.orders as x
            where x.account_id = p_account_id and x.group_id = v_old.group_id and x.order_id <> p_order_id
                and x.leg in ('take_profit', 'stop_loss') and x.status in ('new', 'partially_filled', 'accepted', 'held')
            union all
            select v_new.leg, v_new.limit_price, v_new.stop_price
        ) as o;
        perform mbt.check_exit_prices(v_old.side, v_take_profit, v_stop_loss);
        v_new.qty := v_old.qty - v_old.filled_qty;
        v_new.filled_qty := 0;
        v_new.filled_avg_price := null;
        v_new.replaces := p_order_id;
        v_new.replaced_by := null;
        v_new.created_at := p_as_of;
        v_new.updated_at := p_as_of;
        v_new.submitted_at := p_as_of;
        v_new.stop_triggered_at := null;
        update mbt.orders as o
        set status = 'replaced', replaced_at = p_as_of, updated_at = p_as_of, replaced_by = v_new.order_id
        where o.account_id = p_account_id and o.order_id = p_order_id
        returning * into v_old;
        insert into mbt.orders select v_new.*;
        update mbt.orders as o set parent_order_id = v_new.order_id
        where o.account_id = p_account_id and o.group_id = v_old.group_id and o.parent_order_id = p_order_id;
        insert into mbt.order_events (account_id, order_id, event, event_at, order_state)
        values (p_account_id, p_order_id, 'replaced', p_as_of, mbt.order_json(v_old)),
            (p_account_id, v_new.order_id, 'submitted', p_as_of, mbt.order_json(v_new));
        perform mbt.publish_trade_updates(array[
            mbt.trade_update('replaced', mbt.order_json(v_old), p_account_id, p_as_of),
            mbt.trade_update('new', mbt.order_json(v_new), p_account_id, p_as_of)
        ]);
        return v_new;
    end if;

    update mbt.orders as o
    set status = 'replaced', replaced_at = p_as_of, updated_at = p_as_of, buying_power_held = 0
    where o.account_id = p_account_id and o.order_id = p_order_id;
    -- an entry's held exits will cover what it filled and what the new entry is for
    update mbt.orders as o
    set qty = v_old.filled_qty + coalesce(mbt.request_numeric(p_changes, 'qty'), v_old.qty - v_old.filled_qty)
    where o.account_id = p_account_id and o.group_id = v_old.group_id and o.parent_order_id = p_order_id
        and o.status = 'held';

    v_new := mbt.submit_order(p_account_id, jsonb_strip_nulls(jsonb_build_object(
        'symbol', v_old.symbol,
        'qty', coalesce(p_changes -> 'qty', to_jsonb(v_old.qty - v_old.filled_qty)),
        'side', v_old.side,
        'type', v_old.order_type,
        'time_in_force', coalesce(p_changes ->> 'time_in_force', v_old.time_in_force::text),
        'limit_price', coalesce(p_changes -> 'limit_price', to_jsonb(v_old.limit_price)),
        'stop_price', case when v_old.order_type <> 'trailing_stop' then
            coalesce(p_changes -> 'stop_price', to_jsonb(v_old.stop_price)) end,
        'trail_price', case when v_old.trail_price is not null then coalesce(p_changes -> 'trail', to_jsonb(v_old.trail_price)) end,
        'trail_percent', case when v_old.trail_percent is not null then
            coalesce(p_changes -> 'trail', to_jsonb(v_old.trail_percent)) end,
        'extended_hours', v_old.extended_hours,
        'client_order_id', p_changes -> 'client_order_id'
    )), p_as_of, v_old.group_id);

    -- a new entry takes the old one's place in its group; its held exits cover what it will fill
    update mbt.orders as o
    set replaces = p_order_id, order_class = v_old.order_class
    where o.account_id = p_account_id and o.order_id = v_new.order_id
    returning * into v_new;
    update mbt.orders as o
    set parent_order_id = v_new.order_id
    where o.account_id = p_account_id and o.group_id = v_old.group_id and o.parent_order_id = p_order_id;
    update mbt.orders as o set replaced_by = v_new.order_id
    where o.account_id = p_account_id and o.order_id = p_order_id
    returning * into v_old;
    insert into mbt.order_events (account_id, order_id, event, event_at, order_state)
    values (p_account_id, p_order_id, 'replaced', p_as_of, mbt.order_json(v_old));
    perform mbt.publish_trade_updates(array[mbt.trade_update('replaced', mbt.order_json(v_old), p_account_id, p_as_of)]);
    return v_new;
end;
$$;
comment on function mbt.replace_order(uuid, uuid, jsonb, timestamptz) is
'Replace an open order by a new one (new id; replaces / replaced_by); the new order passes every submission check.';
