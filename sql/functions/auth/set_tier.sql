create or replace function auth.set_tier(p_user_id uuid, p_tier auth.tier)
returns auth.tier
language sql
volatile
security definer
set search_path = ''
as $$
    update auth.users as u set tier = p_tier where u.user_id = p_user_id returning u.tier
$$;
comment on function auth.set_tier(uuid, auth.tier) is
'Change a user''s tier (billing, support). Applies from the user''s next access token.';
