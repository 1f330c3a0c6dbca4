-- name: period_invocations
-- Every invocation of one tenant in a period, without its partition columns (a restated report
-- rewrites their cost into a scratch copy; the lake is never rewritten).
select * exclude (tenant, date)
from inv_src($inv_files)
where tenant = $tenant and started_at >= $start and started_at < $end
