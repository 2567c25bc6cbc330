-- The catalogue of MBT's own error codes: one row per code, with the HTTP status it answers with.
-- docs/errors.md lists the same rows (a test keeps the two equal). Codes are valid SQLSTATEs of
-- class MB (not used by PostgreSQL): MBA auth, MBD market data, MBO orders, MBL order lifecycle (activities,
-- portfolio history, closing positions), MBR rate limits, MBV bad input, MBN not found, MBS service.
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
        ('MBA12', 403, 'audit_is_append_only'),
        ('MBA13', 403, 'not_permitted'),
        ('MBD01', 403, 'recent_data_not_in_tier'),
        ('MBD02', 403, 'history_not_in_tier'),
        ('MBO01', 422, 'unknown_symbol'),
        ('MBO02', 422, 'asset_not_tradable'),
        ('MBO03', 422, 'invalid_quantity'),
        ('MBO04', 422, 'time_in_force_not_allowed'),
        ('MBO05', 422, 'sub_penny_price'),
        ('MBO06', 422, 'price_not_allowed'),
        ('MBO07', 422, 'extended_hours_not_allowed'),
        ('MBO08', 422, 'not_fractionable'),
        ('MBO09', 422, 'client_order_id_not_unique'),
        ('MBO10', 422, 'potential_wash_trade'),
        ('MBO11', 403, 'insufficient_buying_power'),
        ('MBO12', 403, 'insufficient_qty'),
        ('MBO13', 422, 'no_quote'),
        ('MBO14', 404, 'order_not_found'),
        ('MBO15', 422, 'order_not_cancelable'),
        ('MBO16', 403, 'trading_blocked'),
        ('MBO17', 422, 'not_supported_yet'),
        ('MBO18', 422, 'invalid_trailing_stop'),
        ('MBO19', 422, 'invalid_order_class'),
        ('MBO20', 422, 'invalid_exit_prices'),
        ('MBO21', 403, 'intraday_margin_exceeded'),
        ('MBO22', 403, 'pattern_day_trader_protection'),
        ('MBL01', 422, 'invalid_activity_query'),
        ('MBL02', 422, 'invalid_page_token'),
        ('MBL03', 422, 'invalid_portfolio_history_query'),
        ('MBL04', 404, 'position_not_found'),
        ('MBL05', 422, 'invalid_close_quantity'),
        ('MBR01', 429, 'rate_limited'),
        ('MBV01', 400, 'malformed_body'),
        ('MBV02', 413, 'body_too_large'),
        ('MBV03', 422, 'invalid_field'),
        ('MBV04', 422, 'missing_field'),
        ('MBV05', 422, 'unknown_field'),
        ('MBV06', 422, 'invalid_email'),
        ('MBV07', 415, 'unsupported_media_type'),
        ('MBV08', 400, 'malformed_request'),
        ('MBV09', 422, 'invalid_query'),
        ('MBN01', 404, 'not_found'),
        ('MBN02', 405, 'method_not_allowed'),
        ('MBN03', 406, 'not_acceptable'),
        ('MBS01', 503, 'service_unavailable'),
        ('MBS02', 500, 'internal_error'),
        ('MBS03', 409, 'conflict')
    ) as c (code, http_status, title)
$$;
comment on function mbt.error_catalogue() is
'MBT error codes with their HTTP status and a short name. The same list is docs/errors.md.';
