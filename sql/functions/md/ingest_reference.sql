-- Reference data the ingestor loads at start, from Alpaca's trading API (or marketsim's): assets
-- and option contracts, in Alpaca's JSON shapes, upserted by symbol. An asset keeps its asset_id
-- once loaded (orders refer to it).
create or replace function md.ingest_load_assets(p_assets jsonb)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_loaded integer;
begin
    insert into md.assets as a (
        asset_id, symbol, asset_class, exchange, name, status, tradable, marginable, shortable, easy_to_borrow,
        fractionable, maintenance_margin_requirement, updated_at
    )
    select
        coalesce((x ->> 'id')::uuid, gen_random_uuid()), upper(x ->> 'symbol'), (x ->> 'class')::md.asset_class,
        coalesce(x ->> 'exchange', ''), coalesce(x ->> 'name', ''), coalesce(x ->> 'status', 'active')::md.asset_status,
        coalesce((x ->> 'tradable')::boolean, false), coalesce((x ->> 'marginable')::boolean, false),
        coalesce((x ->> 'shortable')::boolean, false), coalesce((x ->> 'easy_to_borrow')::boolean, false),
        coalesce((x ->> 'fractionable')::boolean, false),
        coalesce((x ->> 'maintenance_margin_requirement')::numeric, 30), now()
    from jsonb_array_elements(p_assets) as x
    where x ->> 'class' in ('us_equity', 'us_option') and coalesce(x ->> 'symbol', '') <> ''
    on conflict (symbol) do update
    set asset_class = excluded.asset_class,
        exchange = excluded.exchange,
        name = excluded.name,
        status = excluded.status,
        tradable = excluded.tradable,
        marginable = excluded.marginable,
        shortable = excluded.shortable,
        easy_to_borrow = excluded.easy_to_borrow,
        fractionable = excluded.fractionable,
        maintenance_margin_requirement = excluded.maintenance_margin_requirement,
        updated_at = excluded.updated_at;
    get diagnostics v_loaded = row_count;
    return v_loaded;
end;
$$;
comment on function md.ingest_load_assets(jsonb) is
'Upsert Alpaca Asset objects (GET /v2/assets) into md.assets by symbol; returns how many were loaded.';

create or replace function md.ingest_load_option_contracts(p_contracts jsonb)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_loaded integer;
begin
    with
    contracts as (
        select
            upper(x ->> 'symbol') as symbol, x ->> 'id' as id, coalesce(x ->> 'name', '') as name,
            coalesce(x ->> 'status', 'active') as status, coalesce((x ->> 'tradable')::boolean, true) as tradable,
            upper(x ->> 'underlying_symbol') as underlying_symbol,
            upper(coalesce(x ->> 'root_symbol', x ->> 'underlying_symbol')) as root_symbol,
            (x ->> 'expiration_date')::date as expiration_date, (x ->> 'type')::md.option_type as option_type,
            (x ->> 'strike_price')::numeric as strike_price,
            coalesce(x ->> 'style', 'american')::md.option_style as style,
            coalesce((x ->> 'multiplier')::numeric, 100) as multiplier,
            coalesce((x ->> 'size')::numeric, 100) as size,
            x -> 'deliverables' as deliverables
        from jsonb_array_elements(p_contracts) as x
        where coalesce(x ->> 'symbol', '') <> ''
    ),

    assets as (
        insert into md.assets as a (
            asset_id, symbol, asset_class, exchange, name, status, tradable, marginable, shortable, easy_to_borrow,
            fractionable, maintenance_margin_requirement, updated_at
        )
        select
            coalesce(c.id::uuid, gen_random_uuid()), c.symbol, 'us_option', 'OPRA', c.name, c.status::md.asset_status,
            c.tradable, false, false, false, false, 100, now()
        from contracts as c
        on conflict (symbol) do update
        set name = excluded.name, status = excluded.status, tradable = excluded.tradable, updated_at = excluded.updated_at
        returning a.asset_id, a.symbol
    )

    insert into md.option_contracts as o (
        symbol, asset_id, underlying_symbol, root_symbol, expiration_date, option_type, strike_price, style,
        multiplier, deliverables
    )
    select
        c.symbol, a.asset_id, c.underlying_symbol, c.root_symbol, c.expiration_date, c.option_type, c.strike_price,
        c.style, c.multiplier,
        case
            when jsonb_typeof(c.deliverables) = 'array' and jsonb_array_length(c.deliverables) > 0 then (
                select jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                    'type', d ->> 'type', 'symbol', d ->> 'symbol', 'amount', (d ->> 'amount')::numeric
                )))
                from jsonb_array_elements(c.deliverables) as d
            )
            else jsonb_build_array(jsonb_build_object('type', 'equity', 'symbol', c.underlying_symbol, 'amount', c.size))
        end
    from contracts as c
    inner join assets as a on c.symbol = a.symbol
    on conflict (symbol) do update
    set underlying_symbol = excluded.underlying_symbol,
        root_symbol = excluded.root_symbol,
        expiration_date = excluded.expiration_date,
        option_type = excluded.option_type,
        strike_price = excluded.strike_price,
        style = excluded.style,
        multiplier = excluded.multiplier,
        deliverables = excluded.deliverables;
    get diagnostics v_loaded = row_count;
    return v_loaded;
end;
$$;
comment on function md.ingest_load_option_contracts(jsonb) is
'Upsert Alpaca OptionContract objects (GET /v2/options/contracts) into md.assets and md.option_contracts; returns how many.';

-- One-minute bars from the stream's bar channel (Alpaca's bars: one per minute with trades, sent
-- once the minute is over); a bar sent again replaces the stored one.
create or replace function md.ingest_upsert_bars(
    p_symbol text[],
    p_bar_time timestamptz[],
    p_open numeric[],
    p_high numeric[],
    p_low numeric[],
    p_close numeric[],
    p_volume numeric[],
    p_trade_count integer[],
    p_vwap numeric[]
)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_loaded integer;
begin
    insert into md.bars_1m as b (
        symbol, bar_time, open_price, high_price, low_price, close_price, volume, trade_count, vwap
    )
    select distinct on (n.symbol, n.bar_time)
        n.symbol, n.bar_time, n.open_price, n.high_price, n.low_price, n.close_price, n.volume, n.trade_count, n.vwap
    from unnest(p_symbol, p_bar_time, p_open, p_high, p_low, p_close, p_volume, p_trade_count, p_vwap)
        as n (symbol, bar_time, open_price, high_price, low_price, close_price, volume, trade_count, vwap)
    order by n.symbol, n.bar_time
    on conflict (symbol, bar_time) do update
    set open_price = excluded.open_price,
        high_price = excluded.high_price,
        low_price = excluded.low_price,
        close_price = excluded.close_price,
        volume = excluded.volume,
        trade_count = excluded.trade_count,
        vwap = excluded.vwap;
    get diagnostics v_loaded = row_count;
    return v_loaded;
end;
$$;
comment on function md.ingest_upsert_bars(text[], timestamptz[], numeric[], numeric[], numeric[], numeric[], numeric[], integer[], numeric[])
is 'Upsert one-minute bars (parallel arrays, one element per bar) into md.bars_1m; returns how many.';
