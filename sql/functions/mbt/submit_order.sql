-- Submit an equity order (Alpaca's POST /v2/orders; shared/reference/alpaca.md 1.2-1.8). The request
-- is validated as Alpaca does it; a rejection raises a catalogued error and writes nothing. A
-- client_order_id names one order of the account for as long as the order is kept, so a request sent
-- again (a client retrying a POST) is refused (MBO09), whatever became of the first order.
-- Order classes (alpaca.md 1.4): a bracket is an entry and two exits (take-profit limit, stop-loss
-- stop or stop-limit), an oto an entry and one exit; their exits wait as held until the entry is
-- completely filled. An oco is the two exits alone, for a position already held. All orders of a
-- group share group_id; the engine keeps the exits one-cancels-other. A trailing stop's stop price
-- follows the market from the latest quote on (mbt.trailing_stop_price). The
-- account row is locked first, so concurrent submissions on one account are checked one after the
-- other against the buying power the earlier ones left. A marketable order fills at once against
-- the latest quote if that is fresh at p_as_of, through the same engine as resting orders.
create or replace function mbt.submit_order(
    p_account_id uuid, p_request jsonb, p_as_of timestamptz, p_group_id uuid default null
)
returns mbt.orders
language plpgsql
volatile
security definer
set search_path = ''
-- every statement here looks rows up by key, so its plan does not depend on the values: one generic plan
-- per statement and connection, where PostgreSQL's default re-plans some of them on every call (measured:
-- 1.3 ms a submission with the default, 0.85 ms with this)
set plan_cache_mode = force_generic_plan
as $$
declare
    c_fields constant text[] := array[
        'symbol', 'qty', 'notional', 'side', 'type', 'time_in_force', 'limit_price', 'stop_price', 'trail_price',
        'trail_percent', 'extended_hours', 'client_order_id', 'order_class', 'take_profit', 'stop_loss', 'legs',
        'position_intent'
    ];
    v_field text;
    v_account mbt.accounts;
    v_lookup record;
    v_symbol text;
    v_asset md.assets;
    v_quote md.latest_quotes;
    v_side mbt.order_side;
    v_intent mbt.position_intent;
    v_type mbt.order_type;
    v_tif mbt.time_in_force;
    v_qty numeric;
    v_notional numeric;
    v_limit numeric;
    v_stop numeric;
    v_extended boolean;
    v_client_order_id text;
    v_client_order_id_taken boolean;
    v_wash_trade boolean;
    v_fractional boolean;
    v_position numeric;
    v_open_same_side numeric;
    v_closable numeric;
    v_opening numeric;
    v_basis numeric;
    v_hold numeric := 0;
    v_held numeric;  -- what the account's open orders hold
    v_buying_power numeric;
    v_expires_at timestamptz;
    v_class mbt.order_class;
    v_take_profit jsonb;
    v_stop_loss jsonb;
    v_tp_limit numeric;
    v_sl_stop numeric;
    v_sl_limit numeric;
    v_exit_side mbt.order_side;
    v_direction integer;
    v_trail_price numeric;
    v_trail_percent numeric;
    v_hwm numeric;
    v_session text;
    v_status mbt.order_status;
    v_order_id uuid := gen_random_uuid();
    v_order mbt.orders;
begin
    if jsonb_typeof(p_request) is distinct from 'object' then
        perform mbt.raise_error('MBV03', 'The order must be a JSON object.', null,
            'Send e.g. {"symbol": "AAPL", "qty": 1, "side": "buy", "type": "market", "time_in_force": "day"}.');
    end if;
    -- (p_request less the known fields: an expression, no query, on the way every good order takes)
    if p_request - c_fields <> '{}' then
        select k into v_field from jsonb_object_keys(p_request - c_fields) as k limit 1;
        perform mbt.raise_error('MBV05', format('Unknown field ''%s''.', v_field), null,
            format('An order takes: %s.', array_to_string(c_fields, ', ')));
    end if;

    select * into v_account from mbt.accounts as a where a.account_id = p_account_id for update;
    if not found or v_account.status <> 'ACTIVE' or v_account.trade_suspended_by_user then
        perform mbt.raise_error('MBO16', 'Trading is blocked on this account.',
            format('status = %s, trade_suspended_by_user = %s', v_account.status, v_account.trade_suspended_by_user),
            'Resume trading in your account settings.');
    end if;

    -- what, which way, how
    v_symbol := mbt.request_symbol(p_request, 'symbol');
    if v_symbol is null then
        perform mbt.raise_error('MBV04', 'The field ''symbol'' is required.', null, 'E.g. "symbol": "AAPL".');
    end if;
    -- the asset, its latest quote and the account's position in it: one lookup
    select a as asset, q as quote, coalesce(p.qty, 0) as position into v_lookup
    from md.assets as a
    left join md.latest_quotes as q on a.symbol = q.symbol
    left join mbt.positions as p on p_account_id = p.account_id and a.symbol = p.symbol
    where a.symbol = v_symbol;
    if not found then
        perform mbt.raise_error('MBO01', format('Unknown symbol %s.', p_request ->> 'symbol'), null,
            'Check the ticker; GET /api/assets lists what can be traded.');
    end if;
    v_asset := v_lookup.asset;
    v_quote := v_lookup.quote;
    v_position := v_lookup.position;
    if v_asset.status <> 'active' or not v_asset.tradable then
        perform mbt.raise_error('MBO02', format('%s is not tradable.', v_asset.symbol),
            format('status = %s, tradable = %s', v_asset.status, v_asset.tradable), 'Choose an active, tradable asset.');
    end if;
    if v_asset.asset_class <> 'us_equity' then
        perform mbt.raise_error('MBO17', 'Option orders are not supported yet.', v_asset.symbol,
            'Trade the underlying equity for now.');
    end if;
    v_side := mbt.request_label(p_request, 'side', null::mbt.order_side, true);
    v_type := mbt.request_label(p_request, 'type', null::mbt.order_type, true);
    v_tif := mbt.request_label(p_request, 'time_in_force', null::mbt.time_in_force, true);
    -- Alpaca's four intents, each for its side; the order's own is decided from the position, below
    v_intent := mbt.request_label(p_request, 'position_intent', null::mbt.position_intent, false);
    if v_intent is not null and (v_intent in ('buy_to_open', 'buy_to_close')) <> (v_side = 'buy') then
        perform mbt.raise_error('MBV03', format('position_intent %s does not fit side %s.', v_intent, v_side),
            format('position_intent = %s, side = %s', v_intent, v_side),
            'buy_to_open and buy_to_close go with "side": "buy", sell_to_open and sell_to_close with "side": "sell".');
    end if;
    -- Alpaca sends "" for a simple order
    v_class := coalesce(mbt.request_label(
        case when p_request ->> 'order_class' = '' then p_request - 'order_class' else p_request end,
        'order_class', null::mbt.order_class, false
    ), 'simple');
    if v_class = 'mleg' or p_request ? 'legs' then
        perform mbt.raise_error('MBO17', 'Multi-leg (mleg) orders are not supported yet.', null,
            'Send the legs as separate orders, or a bracket, oco or oto order.');
    end if;
    if v_tif in ('opg', 'cls') and (
        (p_as_of at time zone 'America/New_York')::time >= case when v_tif = 'opg' then time '09:28' else time '15:50' end
        and (p_as_of at time zone 'America/New_York')::time < time '19:00'
    ) then
        perform mbt.raise_error('MBO04', format('%s orders are not accepted between %s and 19:00 ET.', v_tif,
            case when v_tif = 'opg' then '09:28' else '15:50' end), format('time_in_force = %s', v_tif),
            'Submit after 19:00 ET for the next auction, or use day.');
    end if;

    v_extended := coalesce(mbt.request_boolean(p_request, 'extended_hours'), false);

    -- the exits of bracket, oco and oto orders
    v_take_profit := p_request -> 'take_profit';
    v_stop_loss := p_request -> 'stop_loss';
    if jsonb_typeof(coalesce(v_take_profit, '{}')) <> 'object' or jsonb_typeof(coalesce(v_stop_loss, '{}')) <> 'object'
    then
        perform mbt.raise_error('MBV03', 'take_profit and stop_loss must be JSON objects.', null,
            'E.g. "take_profit": {"limit_price": "110"}, "stop_loss": {"stop_price": "95"}.');
    end if;
    if coalesce(v_take_profit - 'limit_price', '{}') <> '{}'
        or coalesce(v_stop_loss - '{stop_price,limit_price}'::text[], '{}') <> '{}' then
        select k into v_field
        from (
            select 'take_profit.' || k as k from jsonb_object_keys(v_take_profit - 'limit_price') as k
            union all
            select 'stop_loss.' || k from jsonb_object_keys(v_stop_loss - '{stop_price,limit_price}'::text[]) as k
        ) as unknown
        limit 1;
        perform mbt.raise_error('MBV05', format('Unknown field ''%s''.', v_field), null,
            'take_profit takes limit_price; stop_loss takes stop_price and, for a stop-limit exit, limit_price.');
    end if;
    -- (each price read into its variable, then checked: mbt.check_order_price is inlined on a variable)
    v_tp_limit := mbt.request_numeric(v_take_profit, 'limit_price');
    v_tp_limit := mbt.check_order_price('take_profit.limit_price', v_tp_limit);
    v_sl_stop := mbt.request_numeric(v_stop_loss, 'stop_price');
    v_sl_stop := mbt.check_order_price('stop_loss.stop_price', v_sl_stop);
    v_sl_limit := mbt.request_numeric(v_stop_loss, 'limit_price');
    v_sl_limit := mbt.check_order_price('stop_loss.limit_price', v_sl_limit);
    if v_class = 'simple' and (v_take_profit is not null or v_stop_loss is not null) then
        perform mbt.raise_error('MBO19', 'take_profit and stop_loss belong to bracket, oco and oto orders.', null,
            'Add "order_class": "bracket" (both exits), "oto" (one exit), or "oco" (exits for a position you hold).');
    end if;
    if v_class in ('bracket', 'oco') and (v_tp_limit is null or v_sl_stop is null) then
        perform mbt.raise_error('MBO19', format('A %s order needs take_profit.limit_price and stop_loss.stop_price.',
            v_class), format('take_profit = %s, stop_loss = %s', v_take_profit, v_stop_loss),
            'Send both exits, e.g. "take_profit": {"limit_price": "110"}, "stop_loss": {"stop_price": "95"}.');
    end if;
    if v_class = 'oto' and (v_tp_limit is null) = (v_sl_stop is null) then
        perform mbt.raise_error('MBO19', 'An oto order needs exactly one exit: take_profit or stop_loss.',
            format('take_profit = %s, stop_loss = %s', v_take_profit, v_stop_loss),
            'Send one of them, or use "order_class": "bracket" for both.');
    end if;
    if v_sl_limit is not null and v_sl_stop is null then
        perform mbt.raise_error('MBV04', 'stop_loss needs stop_price.', format('stop_loss = %s', v_stop_loss),
            'Add "stop_price" to stop_loss.');
    end if;
    if v_class <> 'simple' and (v_tif not in ('day', 'gtc') or v_extended) then
        perform mbt.raise_error('MBO19', format('%s orders take time_in_force day or gtc, in regular hours only.', v_class),
            format('time_in_force = %s, extended_hours = %s', v_tif, v_extended),
            'Use "time_in_force": "day" or "gtc" without extended_hours.');
    end if;
    if v_class = 'oco' and v_type <> 'limit' or v_class in ('bracket', 'oto') and v_type = 'trailing_stop' then
        perform mbt.raise_error('MBO19', format('A %s order cannot be of type %s.', v_class, v_type),
            format('type = %s', v_type), case when v_class = 'oco'
                then 'An oco order is "type": "limit"; its prices are in take_profit and stop_loss.'
                else 'Use a market, limit, stop or stop_limit entry.' end);
    end if;

    -- how much
    v_qty := mbt.request_numeric(p_request, 'qty');
    v_notional := mbt.request_numeric(p_request, 'notional');
    if (v_qty is null) = (v_notional is null) then
        perform mbt.raise_error('MBO03', 'Give exactly one of qty and notional.',
            format('qty = %s, notional = %s', v_qty, v_notional), 'E.g. "qty": 10 or "notional": 500.');
    end if;
    if v_qty <= 0 or v_qty <> round(v_qty, 9) then
        perform mbt.raise_error('MBO03', 'qty must be positive, with at most 9 decimals.', format('qty = %s', v_qty),
            'E.g. "qty": 10 or "qty": 0.5.');
    end if;
    if v_notional < 1 or v_notional <> round(v_notional, 2) then
        perform mbt.raise_error('MBO03', 'notional must be at least $1.00, in cents.', format('notional = %s', v_notional),
            'E.g. "notional": 500.');
    end if;
    v_fractional := v_notional is not null or v_qty <> trunc(v_qty);
    if v_fractional and (v_class <> 'simple' or v_type = 'trailing_stop') then
        perform mbt.raise_error('MBO19', format('%s orders take a whole number of shares.',
            case when v_class <> 'simple' then v_class::text else 'Trailing-stop' end),
            format('qty = %s, notional = %s', v_qty, v_notional), 'Order whole shares with "qty".');
    end if;
    if v_fractional and not v_asset.fractionable then
        perform mbt.raise_error('MBO08', format('%s is not fractionable.', v_asset.symbol), null,
            'Order a whole number of shares.');
    end if;
    if v_fractional and v_tif <> 'day' then
        perform mbt.raise_error('MBO04', 'Fractional and notional orders must be day orders.',
            format('time_in_force = %s', v_tif), 'Use "time_in_force": "day".');
    end if;
    if v_notional is not null and v_type <> 'market' then
        perform mbt.raise_error('MBO03', 'Notional orders must be market orders.', format('type = %s', v_type),
            'Use "qty" for limit and stop orders.');
    end if;
    if v_type in ('stop', 'stop_limit', 'trailing_stop') and v_tif not in ('day', 'gtc') then
        perform mbt.raise_error('MBO04', format('%s orders take time_in_force day or gtc.', v_type),
            format('time_in_force = %s', v_tif), 'Use day or gtc.');
    end if;

    -- at what price
    v_limit := mbt.request_numeric(p_request, 'limit_price');
    v_limit := mbt.check_order_price('limit_price', v_limit);
    v_stop := mbt.request_numeric(p_request, 'stop_price');
    v_stop := mbt.check_order_price('stop_price', v_stop);
    v_trail_price := mbt.request_numeric(p_request, 'trail_price');
    v_trail_price := mbt.check_order_price('trail_price', v_trail_price);
    v_trail_percent := mbt.request_numeric(p_request, 'trail_percent');
    if v_class = 'oco' then
        -- the oco's own price is its take-profit's
        if v_limit is not null and v_limit <> v_tp_limit then
            perform mbt.raise_error('MBO20', 'An oco order''s limit_price is its take_profit.limit_price.',
                format('limit_price = %s, take_profit.limit_price = %s', v_limit, v_tp_limit), 'Send only take_profit.');
        end if;
        v_limit := v_tp_limit;
    end if;
    if v_type = 'trailing_stop' then
        if (v_trail_price is null) = (v_trail_percent is null) then
            perform mbt.raise_error('MBO18', 'A trailing_stop order needs exactly one of trail_price and trail_percent.',
                format('trail_price = %s, trail_percent = %s', v_trail_price, v_trail_percent),
                'E.g. "trail_price": "2.00" (dollars) or "trail_percent": "1.5" (percent).');
        end if;
        if not v_trail_percent > 0 or not v_trail_percent < 100 then
            perform mbt.raise_error('MBO18', 'trail_percent must be above 0 and below 100.',
                format('trail_percent = %s', v_trail_percent), 'E.g. "trail_percent": "1.5".');
        end if;
    elsif v_trail_price is not null or v_trail_percent is not null then
        perform mbt.raise_error('MBO06', format('A %s order takes no trail.', v_type), null,
            'trail_price and trail_percent belong to trailing_stop orders.');
    end if;
    if v_type in ('limit', 'stop_limit') and v_limit is null then
        perform mbt.raise_error('MBV04', format('A %s order needs limit_price.', v_type), null, 'Add "limit_price".');
    end if;
    if v_type in ('stop', 'stop_limit') and v_stop is null then
        perform mbt.raise_error('MBV04', format('A %s order needs stop_price.', v_type), null, 'Add "stop_price".');
    end if;
    if v_type in ('market', 'stop', 'trailing_stop') and v_limit is not null
        or v_type in ('market', 'limit', 'trailing_stop') and v_stop is not null then
        perform mbt.raise_error('MBO06', format('A %s order takes no %s.', v_type,
            case when v_limit is not null and v_type in ('market', 'stop', 'trailing_stop') then 'limit_price'
                else 'stop_price' end),
            null, case when v_type = 'trailing_stop' then 'A trailing stop''s stop price follows the market from its trail.'
                else 'Remove the field, or choose the order type that uses it.' end);
    end if;

    if v_extended and (v_type <> 'limit' or v_tif <> 'day') then
        perform mbt.raise_error('MBO07', 'Extended-hours orders must be limit orders with time_in_force day.',
            format('type = %s, time_in_force = %s', v_type, v_tif), 'Use "type": "limit", "time_in_force": "day".');
    end if;

    v_client_order_id := coalesce(mbt.request_client_order_id(p_request), gen_random_uuid()::text);
    -- against what is already there: the client_order_id among all the account's orders kept, whatever became
    -- of them (a request sent again is refused, not placed twice; the unique index orders_client_order_id
    -- holds it, and the account row locked above orders concurrent submissions), and an open order on the
    -- other side (one query for both)
    select
        exists (
            select from mbt.orders as o
            where o.account_id = p_account_id and o.client_order_id = v_client_order_id
        ),
        exists (
            select from mbt.orders as o
            where o.account_id = p_account_id and o.symbol = v_asset.symbol
                and o.side = (case when v_side = 'buy' then 'sell' else 'buy' end)::mbt.order_side  -- = for the index
                and o.status in ('new', 'partially_filled', 'accepted', 'held')
                and (p_group_id is null or o.group_id is distinct from p_group_id)
        )
    into v_client_order_id_taken, v_wash_trade;
    if v_client_order_id_taken then
        perform mbt.raise_error('MBO09', 'client_order_id must be unique.', format('client_order_id = %s', v_client_order_id),
            'Look the order up with GET /api/orders?client_order_id=eq.<id> instead of sending it again.');
    end if;

    if v_wash_trade then
        perform mbt.raise_error('MBO10', 'potential wash trade detected. use complex orders',
            format('an open %s order on %s exists', case when v_side = 'buy' then 'sell' else 'buy' end, v_asset.symbol),
            'Cancel the opposite order first.');
    end if;

    -- the exits of one group leave the same quantity and only one can fill: one claim. Not needed (0)
    -- for a buy that has nothing short to close, unless an error below reports it
    v_open_same_side := 0;
    if v_side = 'sell' or v_position < 0 or v_class = 'oco' then
        select coalesce(sum(g.leaves), 0) into v_open_same_side
        from (
            select max(coalesce(o.qty, 0) - o.filled_qty) as leaves
            from mbt.orders as o
            where o.account_id = p_account_id and o.symbol = v_asset.symbol and o.side = v_side
                and o.status in ('new', 'partially_filled', 'accepted', 'held')
            group by coalesce(o.group_id, o.order_id)
        ) as g;
    end if;
    -- the part of the order that closes (sells what is held, buys back what is short) needs no buying power
    v_closable := greatest(case when v_side = 'sell' then v_position else -v_position end - v_open_same_side, 0);
    v_opening := greatest(coalesce(v_qty, 0) - v_closable, 0);
    if v_class = 'oco' and v_opening > 0 then
        perform mbt.raise_error('MBO12', format('insufficient qty available for order (requested: %s, available: %s)',
            v_qty, v_closable), format('position = %s, held for open %s orders = %s', v_position, v_side, v_open_same_side),
            'An oco order closes a position you hold: order at most its open quantity, or use a bracket to open one.');
    end if;

    -- a notional sell's quantity is known only at its fill: it may only close a long position
    if v_side = 'sell' and (v_opening > 0 or v_notional is not null and v_closable = 0) then
        if v_fractional or v_notional is not null or not v_account.shorting_enabled or v_account.multiplier < 2
            or not v_asset.shortable or not v_asset.easy_to_borrow then
            perform mbt.raise_error('MBO12', format('insufficient qty available for order (requested: %s, available: %s)',
                coalesce(v_qty::text, format('$%s notional', v_notional)), v_closable),
                format('position = %s, held for open sell orders = %s', v_position, v_open_same_side),
                case
                    when not v_asset.shortable or not v_asset.easy_to_borrow then format('%s cannot be sold short.', v_asset.symbol)
                    when v_fractional or v_notional is not null then
                        'Fractional and notional orders cannot sell short; sell at most what you hold.'
                    else 'Sell at most what you hold; short selling needs a margin account with shorting enabled.'
                end);
        end if;
    end if;

    -- what the opening part costs, and whether it fits the buying power left
    if v_opening > 0 or (v_side = 'buy' and v_notional is not null) then
        if (v_type in ('market', 'stop', 'trailing_stop') or v_side = 'sell') and coalesce(v_quote.ask_price, 0) <= 0 then
            perform mbt.raise_error('MBO13', format('There is no quote for %s to value the order.', v_asset.symbol), null,
                'Use a limit order, or wait for the market to quote the symbol.');
        end if;
        v_basis := case
            when v_side = 'sell' then greatest(coalesce(v_limit, 0), v_quote.ask_price * 1.03)
            when v_type = 'market' then v_quote.ask_price
            when v_type = 'stop' then greatest(v_stop, v_quote.ask_price)
            when v_type = 'trailing_stop' then mbt.trailing_stop_price('buy', v_quote.ask_price, v_trail_price, v_trail_percent)
            else v_limit
        end;
        v_hold := coalesce(v_notional, ceil(v_opening * v_basis * 100) / 100);
        select b.buying_power, b.held into v_buying_power, v_held from mbt.account_balances as b where b.account_id = p_account_id;
        if v_account.multiplier = 1 then
            -- a cash account buys with settled cash only
            v_buying_power := least(v_buying_power, greatest(v_account.cash
                - mbt.unsettled_proceeds(p_account_id, (p_as_of at time zone 'America/New_York')::date) - v_held, 0));
        end if;
        if v_hold > v_buying_power then
            perform mbt.raise_error('MBO11', 'insufficient buying power',
                format('order value %s (%s x %s); buying power %s', v_hold, coalesce(v_opening, 0), v_basis, v_buying_power),
                'Reduce the quantity, or cancel open orders that hold buying power.');
        end if;
    end if;
    -- day trading in a margin account: the intraday margin level (before 2026-06-04: PDT protection)
    if v_account.multiplier >= 2 then
        perform mbt.check_intraday_margin(p_account_id, v_asset.symbol, v_hold, v_held, v_closable > 0, p_as_of);
    end if;

    -- the exits' prices: the take-profit beyond the stop-loss, both at least a cent away from the price
    -- they are measured from (the entry's limit, and the market the entry would fill at)
    if v_class <> 'simple' then
        v_exit_side := (case when v_class = 'oco' or v_side = 'buy' then 'sell' else 'buy' end)::mbt.order_side;
        v_direction := case when v_exit_side = 'sell' then 1 else -1 end;
        perform mbt.check_exit_prices(v_exit_side, v_tp_limit, v_sl_stop);
        select b.base into v_basis
        from (values (1, case when v_class <> 'oco' and v_type in ('limit', 'stop_limit') then v_limit end),
            (2, case when v_class <> 'oco' then
                case when v_side = 'buy' then v_quote.ask_price else v_quote.bid_price end end)) as b (n, base)
        where b.base is not null and (v_direction * (v_tp_limit - b.base) < 0.01 or v_direction * (b.base - v_sl_stop) < 0.01)
        order by b.n
        limit 1;
        if v_basis is not null then
            perform mbt.raise_error('MBO20', case
                when v_direction * (v_tp_limit - v_basis) < 0.01 then format('take_profit.limit_price must be %s base_price %s 0.01',
                    case when v_direction = 1 then '>=' else '<=' end, case when v_direction = 1 then '+' else '-' end)
                else format('stop_loss.stop_price must be %s base_price %s 0.01',
                    case when v_direction = 1 then '<=' else '>=' end, case when v_direction = 1 then '-' else '+' end)
                end,
                format('base_price = %s, take_profit.limit_price = %s, stop_loss.stop_price = %s', v_basis, v_tp_limit, v_sl_stop),
                'base_price is the entry''s limit price and the market price the entry would fill at.');
        end if;
    end if;

    -- a trailing stop trails the latest quote from now on
    if v_type = 'trailing_stop' then
        v_hwm := case when v_side = 'sell' then v_quote.bid_price else v_quote.ask_price end;
        v_stop := mbt.trailing_stop_price(v_side, v_hwm, v_trail_price, v_trail_percent);
    end if;

    -- day orders live until the close of their session (the coming one if submitted after it);
    -- GTC orders 90 days, as at Alpaca
    if v_tif = 'gtc' then
        v_expires_at := ((p_as_of at time zone 'America/New_York')::date + 90 + time '16:15') at time zone 'America/New_York';
    elsif v_tif = 'opg' then
        -- the opening auction, approximated by the first minute of the regular session
        select c.market_open + interval '1 minute' into v_expires_at
        from md.market_calendar as c
        where c.trading_date >= (p_as_of at time zone 'America/New_York')::date and c.market_open > p_as_of
        order by c.trading_date limit 1;
    else
        select case when v_extended then c.session_close else c.market_close end into v_expires_at
        from md.market_calendar as c
        where c.trading_date >= (p_as_of at time zone 'America/New_York')::date
            and case when v_extended then c.session_close else c.market_close end > p_as_of
        order by c.trading_date
        limit 1;
    end if;

    v_session := md.market_session(p_as_of);
    v_status := (case
        when v_session = 'regular' or (v_extended and v_session in ('pre_market', 'after_hours')) then 'new'
        else 'accepted'
    end)::mbt.order_status;
    insert into mbt.orders (
        account_id, order_id, client_order_id, symbol, asset_id, asset_class, side, order_type, time_in_force,
        order_class, group_id, leg, position_intent,
        qty, notional, limit_price, stop_price, trail_price, trail_percent, hwm, extended_hours, status, buying_power_held,
        submitted_bid, submitted_ask, submitted_quote_time, created_at, updated_at, submitted_at, expires_at
    )
    values (
        p_account_id, v_order_id, v_client_order_id, v_asset.symbol, v_asset.asset_id, v_asset.asset_class, v_side, v_type,
        v_tif, v_class, case when v_class <> 'simple' then v_order_id else p_group_id end,
        case when v_class = 'oco' then 'take_profit' when v_class <> 'simple' or p_group_id is not null then 'entry' end
        ::mbt.order_leg,
        case
            when v_side = 'buy' and v_position < 0 then 'buy_to_close'
            when v_side = 'buy' then 'buy_to_open'
            when v_position > 0 then 'sell_to_close'
            else 'sell_to_open'
        end::mbt.position_intent,
        v_qty, v_notional, v_limit, v_stop, v_trail_price, v_trail_percent, v_hwm, v_extended, v_status, v_hold, v_quote.bid_price, v_quote.ask_price, v_quote.quote_time, p_as_of, p_as_of, p_as_of, v_expires_at
    )
    returning * into v_order;

    -- the exits: held until a bracket's or oto's entry is completely filled; an oco's stop-loss is live
    -- beside its take-profit
    if v_class <> 'simple' then
    insert into mbt.orders (
        account_id, client_order_id, symbol, asset_id, asset_class, side, order_type, time_in_force, order_class,
        group_id, leg, parent_order_id, position_intent, qty, limit_price, stop_price, extended_hours, status,
        created_at, updated_at, submitted_at, expires_at
    )
    select
        p_account_id, gen_random_uuid()::text, v_asset.symbol, v_asset.asset_id, v_asset.asset_class, v_exit_side,
        e.order_type, v_tif, v_class, v_order_id, e.leg, v_order_id,
        case when v_exit_side = 'sell' then 'sell_to_close' else 'buy_to_close' end::mbt.position_intent,
        v_qty, e.limit_price, e.stop_price, false, case when v_class = 'oco' then v_status else 'held' end,
        p_as_of, p_as_of, p_as_of, v_expires_at
    from (
        values
        ('take_profit'::mbt.order_leg, 'limit'::mbt.order_type, v_tp_limit, null::numeric),
        ('stop_loss', case when v_sl_limit is null then 'stop' else 'stop_limit' end::mbt.order_type, v_sl_limit, v_sl_stop)
    ) as e (leg, order_type, limit_price, stop_price)
    where e.leg = 'take_profit' and v_class <> 'oco' and v_tp_limit is not null
        or e.leg = 'stop_loss' and v_sl_stop is not null;
    end if;

    -- the audit rows and the trade updates, from one reading of the new orders (each one's JSON built
    -- once); the one-row publishing step is joined so that it runs, once
    with placed as (
        -- the order as inserted (nothing since changed it), and a group's other orders (by orders_group)
        select v_order.order_id, v_order.status, mbt.order_json(v_order) as order_state
        union all
        select o.order_id, o.status, mbt.order_json(o)
        from mbt.orders as o
        where v_class <> 'simple' and o.account_id = p_account_id and o.group_id = v_order_id and o.order_id <> v_order_id
    ),
    published as (
        select mbt.publish_trade_updates(array(
            select mbt.trade_update(case when p.status = 'new' then 'new' else 'accepted' end, p.order_state,
                p_account_id, p_as_of)
            from placed as p
            where p.status <> 'held'
            order by p.order_id <> v_order_id
        )) as messages
    )
    insert into mbt.order_events (account_id, order_id, event, event_at, order_state)
    select p_account_id, p.order_id, 'submitted', p_as_of, p.order_state
    from placed as p
    cross join published;

    -- fill-or-kill: all of it against this quote (what the account's orders left of its size), or nothing
    -- (nested: the query runs for fok orders only)
    if v_tif = 'fok' then
        if not coalesce(
            p_as_of - v_quote.quote_time <= mbt.quote_staleness()
            and (v_account.fill_model = 'full' or v_qty <= case when v_side = 'buy' then v_quote.ask_size else v_quote.bid_size end
                - (select coalesce(sum(f.qty), 0) from mbt.fills as f
                    where f.account_id = p_account_id and f.quote_id = v_quote.quote_id and f.side = v_side)),
            false
        ) then
            return mbt.cancel_order_row(v_order, p_as_of);
        end if;
    end if;
    -- (a limit the quote does not reach cannot fill on it, whatever the session or fill model: the engine
    -- is not asked; an oco's stop-loss could still trigger)
    if v_quote.quote_id is not null and v_tif not in ('opg', 'cls') and p_as_of - v_quote.quote_time <= mbt.quote_staleness()
        and not coalesce(v_type = 'limit' and v_class <> 'oco'
            and case when v_side = 'buy' then v_limit < v_quote.ask_price else v_limit > v_quote.bid_price end, false)
    then
        perform mbt.fill_orders(
            array[(select q from md.quotes as q where q.quote_id = v_quote.quote_id and q.quote_time = v_quote.quote_time)],
            array(
                select (p_account_id, v_order_id)::mbt.order_ref
                union all
                select (o.account_id, o.order_id)::mbt.order_ref from mbt.orders as o
                where v_class = 'oco' and o.account_id = p_account_id and o.group_id = v_order_id and o.order_id <> v_order_id
            ),
            p_as_of
        );
        select * into v_order from mbt.orders as o where o.account_id = p_account_id and o.order_id = v_order.order_id;
    end if;
    -- immediate-or-cancel and fill-or-kill: what did not fill now is canceled
    if v_tif in ('ioc', 'fok') and v_order.status <> 'filled' then
        return mbt.cancel_order_row(v_order, p_as_of);
    end if;
    return v_order;
end;
$$;
comment on function mbt.submit_order(uuid, jsonb, timestamptz, uuid) is
$$Validate and place an equity order at p_as_of (Alpaca's rules); fills at once when the latest fresh quote makes
it marketable. p_group_id: the group a replacing entry joins (its own exits are no wash trade).$$;
