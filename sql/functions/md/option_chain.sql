-- An option chain with each contract's latest quote inside a tier's window at p_now (api.option_chain
-- passes the caller's tier and now()). Keyset paging on the OCC symbol.
create or replace function md.option_chain(
    p_tier auth.tier,
    p_now timestamptz,
    p_underlying_symbol text,
    p_expiration_date_gte date,
    p_expiration_date_lte date,
    p_type text,
    p_strike_price_gte numeric,
    p_strike_price_lte numeric,
    p_limit integer,
    p_page_token text
)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
    v_underlying text := upper(trim(p_underlying_symbol));
    v_type text := lower(p_type);
    v_limit integer := p_limit;
    v_after text;
    v_window record;
    v_contracts jsonb;
    v_count bigint;
    v_last text;
begin
    if coalesce(v_underlying, '') = '' then
        perform mbt.raise_error('MBV04', 'underlying_symbol is missing.', null, 'Name the underlying: underlying_symbol=AAPL.');
    end if;
    if v_type not in ('call', 'put') or v_limit is null or v_limit not between 1 and 10000 then
        perform mbt.raise_error('MBV03', 'Invalid option chain parameters.', format('type = %s, page_size = %s', v_type, v_limit),
            'type: call or put (or leave it out for both); page_size: 1 to 10000.');
    end if;
    if nullif(p_page_token, '') is not null then
        begin
            v_after := convert_from(decode(p_page_token, 'hex'), 'UTF8');
        exception when character_not_in_repertoire or invalid_parameter_value then
            perform mbt.raise_error('MBV03', 'page_token is not one this API gave out.',
                format('page_token = %s', p_page_token),
                'Pass the next_page_token of the previous page unchanged, or leave it out for the first page.');
        end;
    end if;
    select w.* into strict v_window from md.quote_window(p_tier, p_now) as w;

    select
        coalesce(jsonb_agg(p.contract order by p.symbol) filter (where p.n <= v_limit), '[]'),
        count(*),
        max(p.symbol) filter (where p.n = v_limit)
    into v_contracts, v_count, v_last
    from (
        select
            c.symbol,
            row_number() over (order by c.symbol) as n,
            jsonb_build_object(
                'id', a.asset_id,
                'symbol', c.symbol,
                'name', a.name,
                'status', a.status,
                'tradable', a.tradable,
                'expiration_date', c.expiration_date,
                'root_symbol', c.root_symbol,
                'underlying_symbol', c.underlying_symbol,
                'underlying_asset_id', u.asset_id,
                'type', c.option_type,
                'style', c.style,
                'strike_price', trim_scale(c.strike_price)::text,
                'size', trim_scale(c.multiplier)::text,
                'multiplier', trim_scale(c.multiplier)::text,
                'deliverables', c.deliverables,
                'latest_quote', (
                    select md.quote_json(q)
                    from md.visible_latest_quote(c.symbol, v_window.visible_from, v_window.visible_until) as q
                )
            ) as contract
        from (
            select oc.*
            from md.option_contracts as oc
            where
                oc.underlying_symbol = v_underlying
                and (p_expiration_date_gte is null or oc.expiration_date >= p_expiration_date_gte)
                and (p_expiration_date_lte is null or oc.expiration_date <= p_expiration_date_lte)
                and (v_type is null or oc.option_type = v_type::md.option_type)
                and (p_strike_price_gte is null or oc.strike_price >= p_strike_price_gte)
                and (p_strike_price_lte is null or oc.strike_price <= p_strike_price_lte)
                and (v_after is null or oc.symbol > v_after)
            order by oc.symbol
            limit v_limit + 1
        ) as c
        inner join md.assets as a on c.asset_id = a.asset_id
        left join md.assets as u on c.underlying_symbol = u.symbol
    ) as p;

    return jsonb_build_object(
        'option_contracts', v_contracts,
        'next_page_token', case when v_count > v_limit then encode(convert_to(v_last, 'UTF8'), 'hex') end,
        'feed', v_window.feed
    );
end;
$$;
comment on function md.option_chain(auth.tier, timestamptz, text, date, date, text, numeric, numeric, integer, text) is
$$Alpaca's option contracts response {"option_contracts", "next_page_token", "feed"} for an underlying, filtered by expiration,
type and strike; each contract with multiplier, deliverables and the newest quote inside p_tier's window at p_now (or null).$$;
