-- name: trace_invocation
-- One invocation, every column.
select * from inv_src($inv_files) where tenant = $tenant and invocation_id = $invocation_id
