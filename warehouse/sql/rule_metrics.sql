-- name: rule_metrics
-- What a budget or an alert watches: one tenant's runs in [start, end) within a scope
-- (agent, model, user_id; null means any): known spend, runs, errors, unpriced runs and
-- p95 latency. Spend is the sum of known costs: unpriced runs are counted apart, never as $0.
select
    coalesce(sum(cost_usd), 0)::decimal(38, 12) as cost_usd,
    count(*) as runs,
    count(*) filter (where status <> 'Success') as errors,
    count(*) filter (where unpriced) as unpriced_runs,
    quantile_cont(latency_ms, 0.95) as p95_latency_ms
from inv_src($inv_files)
where tenant = $tenant and started_at >= $start and started_at < $end
  and ($agent is null or agent = $agent)
  and ($model is null or model = $model)
  and ($user_id is null or user_id = $user_id)
