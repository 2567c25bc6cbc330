-- Account activities (Alpaca's GET /v2/account/activities, alpaca.md 4.2): trade activities (FILL) from
-- mbt.fills and non-trade activities from the cash ledger mbt.cash_activities, newest first by default,
-- in Alpaca's shapes. An activity's id is its New York time to the millisecond, '::' and its uuid
-- (Alpaca's format); page_token is such an id: the next page starts after it (asc) or ends before it
-- (desc), by (time, uuid), so pages neither skip nor repeat while new activities arrive.
-- Every parameter comes as text (query strings are text) and is checked here: a bad one is a 422
-- naming it (MBL01), an unknown page_token MBL02; nothing else is read.

create or replace function mbt.activity_types()
returns text[]
language sql
immutable
parallel safe
as $$
    select array[
        'FILL', 'TRANS', 'MISC', 'ACATC', 'ACATS', 'CFEE', 'CSD', 'CSW', 'DIV', 'DIVCGL', 'DIVCGS', 'DIVFEE', 'DIVFT',
        'DIVNRA', 'DIVROC', 'DIVTW', 'DIVTXEX', 'FEE', 'INT', 'INTNRA', 'INTTW', 'JNL', 'JNLC', 'JNLS', 'MA', 'NC',
        'OPASN', 'OPEXP', 'OPXRC', 'PTC', 'PTR', 'REORG', 'SC', 'SSO', 'SSP', 'CGD', 'OPCA', 'OPCSH', 'OPEXC',
        'OPTRD', 'REO', 'SPIN', 'SPLIT', 'FOPT', 'OCT', 'EXTRD', 'FXTRD', 'INTPNL', 'MEM', 'SWP', 'VOF', 'WH'
    ]
$$;
comment on function mbt.activity_types() is 'Alpaca''s activity types (docs, OpenAPI and alpaca-py together): the values activity_types accepts.';

create or replace function mbt.activity_id(p_at timestamptz, p_id uuid)
returns text
language sql
immutable
parallel safe
as $$
    select to_char(p_at at time zone 'America/New_York', 'YYYYMMDDHH24MISSMS') || '::' || p_id::text
$$;
comment on function mbt.activity_id(timestamptz, uuid) is
'Alpaca''s activity id: New York time as YYYYMMDDHHMMSSmmm, then ::, then the activity''s uuid.';

create or replace function mbt.account_activities(
    p_account_id uuid,
    p_activity_types text default null,
    p_category text default null,
    p_date text default null,
    p_after text default null,
    p_until text default null,
    p_direction text default null,
    p_page_size text default null,
    p_page_token text default null,
    p_order_id text default null
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_types text [];
    v_unknown text;
    v_date date;
    v_after timestamptz;
    v_until timestamptz;
    v_direction text := lower(coalesce(nullif(btrim(p_direction), ''), 'desc'));
    v_page_size integer;
    v_token_id uuid;
    v_token_at timestamptz;
    v_order_id uuid;
    v_result jsonb;
begin
    -- which activities
    if nullif(btrim(p_activity_types), '') is not null and nullif(btrim(p_category), '') is not null then
        perform mbt.raise_error('MBL01', 'Give activity_types or category, not both.',
            format('activity_types = %s, category = %s', p_activity_types, p_category),
            'Drop one of them: category=trade_activity is activity_types=FILL.');
    end if;
    if nullif(btrim(p_activity_types), '') is not null then
        v_types := string_to_array(upper(replace(p_activity_types, ' ', '')), ',');
        select t into v_unknown from unnest(v_types) as t where t <> all(mbt.activity_types()) limit 1;
        if v_unknown is not null then
            perform mbt.raise_error('MBL01', format('Unknown activity type ''%s''.', v_unknown),
                format('activity_types = %s', p_activity_types),
                'A comma-separated list of Alpaca activity types, e.g. FILL,CSD,DIV.');
        end if;
    elsif nullif(btrim(p_category), '') is not null then
        if p_category not in ('trade_activity', 'non_trade_activity') then
            perform mbt.raise_error('MBL01', format('Unknown category ''%s''.', p_category),
                format('category = %s', p_category), 'category: trade_activity or non_trade_activity.');
        end if;
        v_types := case when p_category = 'trade_activity' then array['FILL'] else array_remove(mbt.activity_types(), 'FILL') end;
    else
        v_types := mbt.activity_types();
    end if;

    -- when
    if nullif(btrim(p_date), '') is not null and (nullif(btrim(p_after), '') is not null or nullif(btrim(p_until), '') is not null) then
        perform mbt.raise_error('MBL01', 'Give date, or after and until, not both.',
            format('date = %s, after = %s, until = %s', p_date, p_after, p_until),
            'date is one New York day; after/until bound a period.');
    end if;
    begin
        v_date := nullif(btrim(p_date), '')::date;
    exception when others then
        perform mbt.raise_error('MBL01', format('date is not a date: %s.', p_date), format('date = %s', p_date),
            'A New York calendar day, YYYY-MM-DD.');
    end;
    begin
        v_after := nullif(btrim(p_after), '')::timestamptz;
    exception when others then
        perform mbt.raise_error('MBL01', format('after is not a timestamp: %s.', p_after), format('after = %s', p_after),
            'An ISO 8601 time with its offset, e.g. 2026-11-24T09:30:00-05:00.');
    end;
    begin
        v_until := nullif(btrim(p_until), '')::timestamptz;
    exception when others then
        perform mbt.raise_error('MBL01', format('until is not a timestamp: %s.', p_until), format('until = %s', p_until),
            'An ISO 8601 time with its offset, e.g. 2026-11-24T16:00:00-05:00.');
    end;

    -- how
    if v_direction not in ('asc', 'desc') then
        perform mbt.raise_error('MBL01', format('direction must be asc or desc, not %s.', p_direction),
            format('direction = %s', p_direction), 'direction: asc (oldest first) or desc (newest first, the default).');
    end if;
    if coalesce(btrim(p_page_size), '100') !~ '^\d{1,9}$' or coalesce(btrim(p_page_size), '100')::integer not between 1 and 100 then
        perform mbt.raise_error('MBL01', format('page_size must be a whole number from 1 to 100, not %s.', p_page_size),
            format('page_size = %s', p_page_size), 'Leave it out for 100; page on with page_token.');
    end if;
    v_page_size := coalesce(btrim(p_page_size), '100')::integer;
    if nullif(btrim(p_order_id), '') is not null then
        if btrim(p_order_id) !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
            perform mbt.raise_error('MBL01', format('order_id is not an order id: %s.', p_order_id),
                format('order_id = %s', p_order_id), 'An order''s id (a uuid), as GET /api/orders shows it.');
        end if;
        v_order_id := btrim(p_order_id)::uuid;
        v_types := array(select t from unnest(v_types) as t where t = 'FILL');
    end if;

    -- from where
    if nullif(btrim(p_page_token), '') is not null then
        if btrim(p_page_token) !~* '^\d{17}::[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
            perform mbt.raise_error('MBL02', 'page_token is not an activity id.', format('page_token = %s', p_page_token),
                'Pass the id of the last activity of the previous page.');
        end if;
        v_token_id := split_part(btrim(p_page_token), '::', 2)::uuid;
        select coalesce(
            (select f.transaction_time from mbt.fills as f where f.account_id = p_account_id and f.fill_id = v_token_id),
            (select c.activity_at from mbt.cash_activities as c where c.account_id = p_account_id and c.activity_id = v_token_id)
        ) into v_token_at;
        if v_token_at is null then
            perform mbt.raise_error('MBL02', 'page_token is not one of your activities.',
                format('page_token = %s', p_page_token), 'Pass the id of the last activity of the previous page.');
        end if;
    end if;

    with
    feed as (
        select
            f.transaction_time as at,
            f.fill_id as uid,
            jsonb_build_object(
                'activity_type', 'FILL',
                'id', mbt.activity_id(f.transaction_time, f.fill_id),
                'transaction_time', f.transaction_time,
                'type', case when f.leaves_qty = 0 then 'fill' else 'partial_fill' end,
                'price', trim_scale(f.price)::text,
                'qty', trim_scale(f.qty)::text,
                'side', f.side,
                'symbol', f.symbol,
                'leaves_qty', trim_scale(f.leaves_qty)::text,
                'cum_qty', trim_scale(f.cum_qty)::text,
                'order_id', f.order_id,
                'order_status', case when f.leaves_qty = 0 then 'filled' else 'partially_filled' end
            ) as body
        from mbt.fills as f
        where f.account_id = p_account_id and 'FILL' = any(v_types)
            and (v_order_id is null or f.order_id = v_order_id)
        union all
        select
            c.activity_at,
            c.activity_id,
            jsonb_build_object(
                'activity_type', c.activity_type,
                'id', mbt.activity_id(c.activity_at, c.activity_id),
                'date', (c.activity_at at time zone 'America/New_York')::date,
                'net_amount', c.net_amount::text,
                'description', c.description,
                'status', c.status,
                'symbol', c.symbol,
                'qty', trim_scale(c.qty)::text,
                'per_share_amount', trim_scale(c.per_share_amount)::text
            )
        from mbt.cash_activities as c
        where c.account_id = p_account_id and c.activity_type = any(v_types)
    ),

    page as (
        select e.at, e.uid, e.body
        from feed as e
        where (v_date is null or (e.at >= (v_date::timestamp at time zone 'America/New_York')
                and e.at < ((v_date + 1)::timestamp at time zone 'America/New_York')))
            and (v_after is null or e.at > v_after)
            and (v_until is null or e.at < v_until)
            and (v_token_at is null
                or (v_direction = 'asc' and (e.at, e.uid) > (v_token_at, v_token_id))
                or (v_direction = 'desc' and (e.at, e.uid) < (v_token_at, v_token_id)))
        order by
            case when v_direction = 'asc' then e.at end asc,
            case when v_direction = 'asc' then e.uid end asc,
            e.at desc,
            e.uid desc
        limit v_page_size
    )

    select coalesce(jsonb_agg(p.body order by
        case when v_direction = 'asc' then p.at end asc,
        case when v_direction = 'asc' then p.uid end asc,
        p.at desc,
        p.uid desc), '[]'::jsonb)
    into v_result
    from page as p;
    return v_result;
end;
$$;
comment on function mbt.account_activities(uuid, text, text, text, text, text, text, text, text, text) is
'An account''s activities (FILL from fills, non-trade from the cash ledger) in Alpaca''s shape, filtered and keyset-paged; MBL01/MBL02 on bad parameters.';
