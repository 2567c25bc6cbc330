-- The outcome of a password check begun with auth.begin_login. Success clears the e-mail's count;
-- the 5th failure within the window locks the e-mail at once (30 s). Returns the seconds to wait.
create or replace function auth.end_login(p_email text, p_succeeded boolean)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    c_free_attempts constant integer := 5;
    v_row auth.login_throttle;
begin
    if p_succeeded then
        delete from auth.login_throttle as t where t.email_digest = auth.email_digest(p_email);
        return 0;
    end if;
    update auth.login_throttle as t
    set locked_until = greatest(t.locked_until, now() + interval '30 seconds')
    where t.email_digest = auth.email_digest(p_email) and t.attempts >= c_free_attempts
    returning * into v_row;
    if not found then
        return 0;
    end if;
    return ceil(extract(epoch from v_row.locked_until - now()))::integer;
end;
$$;
comment on function auth.end_login(text, boolean) is
'Record how a password check ended: success clears the throttle; a failure at the limit locks the e-mail. Returns seconds to wait.';
