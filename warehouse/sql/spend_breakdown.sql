-- name: spend_breakdown
-- Spend in a period grouped by one whitelisted dimension ({dimension}).
select
    {dimension} as key,
    count(*) as runs,
    sum(cost_usd)::decimal(38, 12) as cost_usd,  -- null when every run is unpriced, never $0
    count(*) filter (where unpriced) as unpriced_runs,
    sum(input_tokens)::bigint as input_tokens,
    sum(output_tokens)::bigint as output_tokens
from inv_src($inv_files)
where tenant = $tenant and started_at >= $start and started_at < $end
group by all
order by cost_usd desc nulls last, key
