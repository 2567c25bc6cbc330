-- The catalogue of MBT's own error codes: one row per code, with the HTTP status it answers with.
-- docs/errors.md lists the same rows (a test keeps the two equal). Codes are valid SQLSTATEs of
-- class MB (not used by PostgreSQL): MBA auth, MBR rate limits, MBV bad input, MBN not found, MBS service.
create or replace function mbt.error_catalogue()
returns table (code text, http_status integer, title text)
language sql
immutable
parallel safe
as $$
    select c.code, c.http_status, c.title
    from (values
        ('MBA01', 401, 'invalid_credentials'),
        ('MBA02', 409, 'email_taken'),
        ('MBA03', 422, 'weak_password'),
        ('MBA04', 429, 'login_throttled'),
        ('MBA05', 401, 'session_revoked'),
        ('MBA06', 401, 'refresh_token_invalid'),
        ('MBA07', 401, 'refresh_token_reused'),
        ('MBA08', 401, 'not_authenticated'),
        ('MBA09', 403, 'password_mismatch'),
        ('MBA10', 404, 'session_not_found'),
        ('MBA11', 403, 'csrf_header_missing'),
        ('MBR01', 429, 'rate_limited'),
        ('MBV01', 400, 'malformed_body'),
        ('MBV02', 413, 'body_too_large'),
        ('MBV03', 422, 'invalid_field'),
        ('MBV04', 422, 'missing_field'),
        ('MBV05', 422, 'unknown_field'),
        ('MBV06', 422, 'invalid_email'),
        ('MBV07', 415, 'unsupported_media_type'),
        ('MBV08', 400, 'malformed_request'),
        ('MBN01', 404, 'not_found'),
        ('MBN02', 405, 'method_not_allowed'),
        ('MBS01', 503, 'service_unavailable'),
        ('MBS02', 500, 'internal_error')
    ) as c (code, http_status, title)
$$;
comment on function mbt.error_catalogue() is
'MBT error codes with their HTTP status and a short name. The same list is docs/errors.md.';
