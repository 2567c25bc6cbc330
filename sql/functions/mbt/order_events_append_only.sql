-- The audit trail is append-only: no UPDATE, and no DELETE except by erasure (the account is
-- already gone when its rows cascade away).
create or replace function mbt.order_events_append_only()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if tg_op = 'DELETE' and not exists (select from mbt.accounts as a where a.account_id = old.account_id) then
        return old;
    end if;
    raise exception 'mbt.order_events is append-only: % is not allowed', tg_op
        using errcode = 'MBA12', hint = 'Audit rows go only with their account (erasure).';
end;
$$;
comment on function mbt.order_events_append_only() is
'Refuses UPDATE and DELETE on mbt.order_events, except the cascade of an erased account.';

drop trigger if exists order_events_append_only on mbt.order_events;
create trigger order_events_append_only
before update or delete on mbt.order_events
for each row
execute function mbt.order_events_append_only();
