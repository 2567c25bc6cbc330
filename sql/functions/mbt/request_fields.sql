-- Reading fields of a JSON request. Numbers may come as JSON numbers or numeric strings (alpaca-py
-- sends floats, Alpaca's docs send strings); anything else is a clear 422 naming the field.
-- These run a score of times in every submission, so they cost next to nothing: request_numeric and
-- request_text are SQL functions of one expression, which PostgreSQL inlines into the calling
-- expression (no function call at all; the error branch is a CASE arm that calls mbt.raise_error,
-- whose void result is never reached). None sets search_path (invoker's rights, every name
-- schema-qualified, called from functions that pin search_path to ''): a SET clause would stop the
-- inlining, and costs a save and restore of the setting on every call.
create or replace function mbt.request_numeric(p_request jsonb, p_field text)
returns numeric
language sql
stable
as $$
    select case
        when coalesce(jsonb_typeof(p_request -> p_field), 'null') = 'null' then null
        when jsonb_typeof(p_request -> p_field) = 'number'
            or jsonb_typeof(p_request -> p_field) = 'string'
            and (p_request ->> p_field) ~ '^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$' then (p_request ->> p_field)::numeric
        else mbt.raise_error(
            'MBV03', format('The field ''%s'' must be a number.', p_field), format('%s = %s', p_field, p_request -> p_field),
            'Send a JSON number or a numeric string, e.g. "10" or 10.5.'
        )::text::numeric
    end
$$;
comment on function mbt.request_numeric(jsonb, text) is
'A numeric field of a JSON request (number or numeric string); null when absent; MBV03 otherwise.';

create or replace function mbt.request_text(p_request jsonb, p_field text)
returns text
language sql
stable
as $$
    select case coalesce(jsonb_typeof(p_request -> p_field), 'null')
        when 'null' then null
        when 'string' then p_request ->> p_field
        else mbt.raise_error(
            'MBV03', format('The field ''%s'' must be a string.', p_field), format('%s = %s', p_field, p_request -> p_field),
            'Send it as a JSON string.'
        )::text
    end
$$;
comment on function mbt.request_text(jsonb, text) is 'A string field of a JSON request; null when absent; MBV03 otherwise.';

-- A symbol: a ticker or an OCC option symbol, ASCII letters, digits and '.', upper-cased in the C
-- collation (which folds ASCII only: under a Unicode collation upper('ſpy') is 'SPY'); spaces around it go.
create or replace function mbt.request_symbol(p_request jsonb, p_field text)
returns text
language sql
stable
as $$
    select case
        when mbt.request_text(p_request, p_field) is null then null
        when btrim(p_request ->> p_field) ~ '^[A-Za-z0-9.]+$' then upper(btrim(p_request ->> p_field) collate "C")
        else mbt.raise_error(
            'MBV03', format('The field ''%s'' must be a ticker or an OCC option symbol: ASCII letters, digits and ''.''.',
                p_field),
            format('%s = %s', p_field, p_request -> p_field), 'E.g. "AAPL", "BRK.B" or "AAPL261218C00190000".'
        )::text
    end
$$;
comment on function mbt.request_symbol(jsonb, text) is
'A symbol field of a JSON request, upper-cased (ASCII letters, digits and ''.'' only); null when absent; MBV03 otherwise.';

-- The caller's id for an order: 1 to 128 characters (Alpaca's limit), none of them a control character
-- (C0, DEL, C1: they would reach logs, CSV exports and terminals as they are).
create or replace function mbt.request_client_order_id(p_request jsonb)
returns text
language sql
stable
as $$
    select case
        when mbt.request_text(p_request, 'client_order_id') is null then null
        when length(p_request ->> 'client_order_id') not between 1 and 128 then mbt.raise_error(
            'MBV03', 'client_order_id must be 1 to 128 characters.',
            format('length = %s', length(p_request ->> 'client_order_id')), 'Shorten it.'
        )::text
        when (p_request ->> 'client_order_id') ~ '[\u0001-\u001f\u007f-\u009f]' then mbt.raise_error(
            'MBV03', 'client_order_id must not contain control characters.',
            format('client_order_id = %s', p_request -> 'client_order_id'), 'Use printable characters, e.g. a UUID.'
        )::text
        else p_request ->> 'client_order_id'
    end
$$;
comment on function mbt.request_client_order_id(jsonb) is
'The client_order_id of a JSON request (1 to 128 characters, no control characters); null when absent; MBV03 otherwise.';

create or replace function mbt.request_boolean(p_request jsonb, p_field text)
returns boolean
language sql
stable
as $$
    select case coalesce(jsonb_typeof(p_request -> p_field), 'null')
        when 'null' then null
        when 'boolean' then (p_request ->> p_field)::boolean
        else mbt.raise_error(
            'MBV03', format('The field ''%s'' must be true or false.', p_field), format('%s = %s', p_field, p_request -> p_field),
            'Send a JSON boolean (true, not "true").'
        )::text::boolean
    end
$$;
comment on function mbt.request_boolean(jsonb, text) is
'A boolean field of a JSON request (a JSON true or false, not a string); null when absent; MBV03 otherwise.';

-- An enum field: the value must be one of the type's labels; p_type is a value of the enum type
-- (null::mbt.order_side), which is also the type returned. The labels come from enum_range, out of the
-- type cache, rather than a query on pg_enum.
create or replace function mbt.request_label(p_request jsonb, p_field text, p_type anyenum, p_required boolean)
returns anyenum
language plpgsql
stable
as $$
declare
    v_value text := mbt.request_text(p_request, p_field);
    v_position integer;
begin
    if v_value is null then
        if p_required then
            perform mbt.raise_error(
                'MBV04', format('The field ''%s'' is required.', p_field), null,
                format('One of: %s.', array_to_string(enum_range(p_type), ', '))
            );
        end if;
        return null;
    end if;
    v_position := array_position(enum_range(p_type)::text[], v_value);
    if v_position is null then
        perform mbt.raise_error(
            'MBV03', format('The field ''%s'' is invalid: %s.', p_field, v_value), format('%s = %s', p_field, v_value),
            format('One of: %s.', array_to_string(enum_range(p_type), ', '))
        );
    end if;
    return (enum_range(p_type))[v_position];
end;
$$;
comment on function mbt.request_label(jsonb, text, anyenum, boolean) is
'An enum field of a JSON request, checked against the labels of p_type''s enum (MBV04 when required and absent, MBV03 when not a label).';
