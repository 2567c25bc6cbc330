-- The paper account of the signed-in caller (one per user in v1): what every api write works on.
-- PL/pgSQL so that its one query keeps its plan for the connection (a SQL function with a FROM is not
-- inlined, and would be parsed and planned on every call).
create or replace function mbt.current_account_id()
returns uuid
language plpgsql
stable
as $$
begin
    return (select a.account_id from mbt.accounts as a where a.user_id = auth.current_user_id());
end;
$$;
comment on function mbt.current_account_id() is 'The account of the signed-in caller of this request (null when anonymous).';
