-- Set a new password hash and revoke every other session of the user: a password change
-- signs out all other devices.
create or replace function auth.change_password(p_user_id uuid, p_current_session_id uuid, p_password_hash text)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_revoked integer;
begin
    update auth.users as u
    set password_hash = p_password_hash, password_changed_at = now()
    where u.user_id = p_user_id;
    update auth.sessions as s
    set revoked_at = now(), revoked_reason = 'password_changed'
    where s.user_id = p_user_id and s.session_id <> p_current_session_id and s.revoked_at is null;
    get diagnostics v_revoked = row_count;
    return v_revoked;
end;
$$;
comment on function auth.change_password(uuid, uuid, text) is
'Replace the password hash and revoke the user''s other sessions; returns how many were revoked.';
