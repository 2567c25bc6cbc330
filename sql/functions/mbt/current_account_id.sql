-- The paper account of the signed-in caller (one per user in v1): what every api write works on.
create or replace function mbt.current_account_id()
returns uuid
language sql
stable
as $$
    select a.account_id from mbt.accounts as a where a.user_id = auth.current_user_id()
$$;
comment on function mbt.current_account_id() is 'The account of the signed-in caller of this request (null when anonymous).';
