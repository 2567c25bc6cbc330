create or replace function auth.is_valid_email(p_email text)
returns boolean
language sql
immutable
parallel safe
as $$
    select coalesce(
        length(p_email) <= 254 and p_email ~ '^[^@[:space:]]+@[^@[:space:].]+(\.[^@[:space:].]+)+$',
        false
    )
$$;
comment on function auth.is_valid_email(text) is
'True for a plausible e-mail address: one @, a dotted domain, no spaces, at most 254 characters.';
