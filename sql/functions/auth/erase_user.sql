-- GDPR erasure: the user row goes, and with it (foreign keys, on delete cascade) every session,
-- refresh token, account and everything under the account. The e-mail's failed log-ins go too.
create or replace function auth.erase_user(p_user_id uuid)
returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_email text;
begin
    -- queued trade_updates of the user's accounts go too
    delete from pgmq.q_trade_updates as q
    where q.message ->> 'account_id' in (select a.account_id::text from mbt.accounts as a where a.user_id = p_user_id);
    delete from auth.users as u where u.user_id = p_user_id returning u.email into v_email;
    if not found then
        return false;
    end if;
    delete from auth.login_throttle as t where t.email_digest = auth.email_digest(v_email);
    return true;
end;
$$;
comment on function auth.erase_user(uuid) is
'Erase a user and every row of theirs in auth and mbt, in one transaction; true if the user existed.';
