-- Open the paper account of a new user. Starting cash: the setting mbt.starting_cash
-- (ALTER DATABASE mbt SET mbt.starting_cash = '25000.00'), else $100,000.00 as at Alpaca paper.
-- The starting cash is the account's first cash activity: a CSD (deposit) at the opening.
create or replace function mbt.open_account(p_user_id uuid)
returns mbt.accounts
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_starting_cash numeric(20, 2) := coalesce(
        nullif(current_setting('mbt.starting_cash', true), '')::numeric(20, 2), 100000.00
    );
    v_account mbt.accounts;
begin
    if v_starting_cash < 0 then
        raise exception 'mbt.starting_cash must not be negative (it is %)', v_starting_cash;
    end if;
    insert into mbt.accounts (user_id, cash)
    values (p_user_id, v_starting_cash)
    returning * into v_account;
    if v_starting_cash > 0 then
        insert into mbt.cash_activities (account_id, activity_type, activity_at, net_amount, description)
        values (v_account.account_id, 'CSD', v_account.created_at, v_starting_cash, 'Opening deposit');
    end if;
    return v_account;
end;
$$;
comment on function mbt.open_account(uuid) is
'Open the paper account of a new user with the configured starting cash (default 100000.00 USD), recorded as a CSD.';
