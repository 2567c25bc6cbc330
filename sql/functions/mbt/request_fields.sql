-- Reading fields of a JSON request. Numbers may come as JSON numbers or numeric strings (alpaca-py
-- sends floats, Alpaca's docs send strings); anything else is a clear 422 naming the field.
create or replace function mbt.request_numeric(p_request jsonb, p_field text)
returns numeric
language plpgsql
stable
set search_path = ''
as $$
declare
    v_value jsonb := p_request -> p_field;
begin
    if v_value is null or v_value = 'null'::jsonb then
        return null;
    end if;
    if jsonb_typeof(v_value) = 'number' then
        return v_value::text::numeric;
    end if;
    if jsonb_typeof(v_value) = 'string' and (v_value #>> '{}') ~ '^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$' then
        return (v_value #>> '{}')::numeric;
    end if;
    perform mbt.raise_error(
        'MBV03', format('The field ''%s'' must be a number.', p_field), format('%s = %s', p_field, v_value),
        'Send a JSON number or a numeric string, e.g. "10" or 10.5.'
    );
    return null;
end;
$$;
comment on function mbt.request_numeric(jsonb, text) is
'A numeric field of a JSON request (number or numeric string); null when absent; MBV03 otherwise.';

create or replace function mbt.request_text(p_request jsonb, p_field text)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
    v_value jsonb := p_request -> p_field;
begin
    if v_value is null or v_value = 'null'::jsonb then
        return null;
    end if;
    if jsonb_typeof(v_value) <> 'string' then
        perform mbt.raise_error(
            'MBV03', format('The field ''%s'' must be a string.', p_field), format('%s = %s', p_field, v_value),
            'Send it as a JSON string.'
        );
    end if;
    return v_value #>> '{}';
end;
$$;
comment on function mbt.request_text(jsonb, text) is 'A string field of a JSON request; null when absent; MBV03 otherwise.';

-- An enum field: the value must be one of the type's labels.
create or replace function mbt.request_label(p_request jsonb, p_field text, p_type regtype, p_required boolean)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
    v_value text := mbt.request_text(p_request, p_field);
    v_labels text[];
begin
    select array_agg(e.enumlabel::text order by e.enumsortorder) into v_labels
    from pg_catalog.pg_enum as e
    where e.enumtypid = p_type;
    if v_value is null then
        if p_required then
            perform mbt.raise_error(
                'MBV04', format('The field ''%s'' is required.', p_field), null,
                format('One of: %s.', array_to_string(v_labels, ', '))
            );
        end if;
        return null;
    end if;
    if v_value <> all(v_labels) then
        perform mbt.raise_error(
            'MBV03', format('The field ''%s'' is invalid: %s.', p_field, v_value), format('%s = %s', p_field, v_value),
            format('One of: %s.', array_to_string(v_labels, ', '))
        );
    end if;
    return v_value;
end;
$$;
comment on function mbt.request_label(jsonb, text, regtype, boolean) is
'An enum field of a JSON request, checked against the enum''s labels (MBV04 when required and absent, MBV03 when not a label).';
