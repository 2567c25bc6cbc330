-- Every batch of quotes inserted into md.quotes (the ingestor's COPY, a test's multi-row INSERT)
-- goes to the fill engine once, as a whole: one statement-level trigger with the batch's
-- transition table, no per-row or per-order trigger.
create or replace function mbt.evaluate_orders_on_quotes()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform mbt.fill_orders((select array_agg(n::md.quotes) from new_quotes as n));
    return null;
end;
$$;
comment on function mbt.evaluate_orders_on_quotes() is
'Statement trigger on md.quotes: hands the inserted batch to mbt.fill_orders.';

drop trigger if exists quotes_evaluate_orders on md.quotes;
create trigger quotes_evaluate_orders
after insert on md.quotes
referencing new table as new_quotes
for each statement
execute function mbt.evaluate_orders_on_quotes();
