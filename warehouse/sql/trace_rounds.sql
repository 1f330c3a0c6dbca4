-- name: trace_rounds
-- The rounds of one invocation, in order.
select * from rounds_src($round_files)
where tenant = $tenant and invocation_id = $invocation_id
order by round_index
