create or replace function auth.email_digest(p_email text)
returns bytea
language sql
immutable
parallel safe
as $$
    select sha256(convert_to(lower(btrim(p_email)), 'UTF8'))
$$;
comment on function auth.email_digest(text) is
'SHA-256 of the normalised (trimmed, lower-case) e-mail: the key of the log-in throttle, which stores no e-mail.';
