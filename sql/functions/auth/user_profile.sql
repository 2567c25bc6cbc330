create or replace function auth.user_profile(p_user_id uuid)
returns table (user_id uuid, email text, tier auth.tier, created_at timestamptz, password_hash text)
language sql
stable
security definer
set search_path = ''
as $$
    select u.user_id, u.email, u.tier, u.created_at, u.password_hash
    from auth.users as u
    where u.user_id = p_user_id
$$;
comment on function auth.user_profile(uuid) is
'A user''s e-mail, tier and password hash (the sessions service re-checks the password for sensitive steps).';
