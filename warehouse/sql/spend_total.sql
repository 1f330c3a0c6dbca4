-- name: spend_total
-- Total priced spend and runs of one tenant in a period.
select
    coalesce(sum(cost_usd), 0)::decimal(38, 12) as cost_usd,
    count(*) as runs,
    count(*) filter (where unpriced) as unpriced_runs
from inv_src($inv_files)
where tenant = $tenant and started_at >= $start and started_at < $end
