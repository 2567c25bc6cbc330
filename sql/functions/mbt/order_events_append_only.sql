-- The audit trail is append-only: no UPDATE, and no DELETE except by erasure (the account is
-- already gone when its rows cascade away) and by tier retention (the order is already gone, removed
-- by mbt.purge_expired_history, which marks its transaction with mbt.retention_purge).
create or replace function mbt.order_events_append_only()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if tg_op = 'DELETE' and not exists (select from mbt.accounts as a where a.account_id = old.account_id) then
        return old;
    end if;
    if tg_op = 'DELETE' and current_setting('mbt.retention_purge', true) = 'on'
        and not exists (select from mbt.orders as o where o.account_id = old.account_id and o.order_id = old.order_id) then
        return old;
    end if;
    raise exception 'mbt.order_events is append-only: % is not allowed', tg_op
        using errcode = 'MBA12', hint = 'Audit rows go only with their account (erasure) or their order (tier retention).';
end;
$$;
comment on function mbt.order_events_append_only() is
'Refuses UPDATE and DELETE on mbt.order_events, except the cascade of an erased account or of an order tier retention removed.';

drop trigger if exists order_events_append_only on mbt.order_events;
create trigger order_events_append_only
before update or delete on mbt.order_events
for each row
execute function mbt.order_events_append_only();
