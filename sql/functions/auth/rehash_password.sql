create or replace function auth.rehash_password(p_user_id uuid, p_password_hash text)
returns void
language sql
volatile
security definer
set search_path = ''
as $$
    update auth.users as u set password_hash = p_password_hash where u.user_id = p_user_id
$$;
comment on function auth.rehash_password(uuid, text) is
'Store a re-computed hash of the same password (after the hashing parameters were raised).';
