-- Raise one of MBT's catalogued errors. Through PostgREST (request.method is set) the error goes out
-- as HTTP with the catalogue's status and the body {code, message, details, hint}; anywhere else
-- (psql, jobs, the sessions service) it is an ordinary error whose SQLSTATE is the code.
create or replace function mbt.raise_error(
    p_code text,
    p_message text,
    p_details text default null,
    p_hint text default null
)
returns void
language plpgsql
stable
set search_path = ''
as $$
declare
    v_status integer;
begin
    select c.http_status into v_status
    from mbt.error_catalogue() as c
    where c.code = p_code;
    if v_status is null then
        raise exception 'mbt.raise_error: unknown error code %', p_code
            using hint = 'Add the code to mbt.error_catalogue() and docs/errors.md.';
    end if;

    if nullif(current_setting('request.method', true), '') is not null then
        raise sqlstate 'PGRST' using
            message = json_build_object(
                'code', p_code, 'message', p_message, 'details', p_details, 'hint', p_hint
            )::text,
            detail = json_build_object('status', v_status, 'headers', json_build_object())::text;
    end if;

    raise exception using
        errcode = p_code,
        message = p_message,
        detail = coalesce(p_details, ''),
        hint = coalesce(p_hint, '');
end;
$$;
comment on function mbt.raise_error(text, text, text, text) is
'Raise a catalogued MBT error: HTTP status and JSON body through PostgREST, SQLSTATE = code elsewhere.';
