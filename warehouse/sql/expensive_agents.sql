-- name: expensive_agents
-- Agents ranked by total cost in a period: runs, cost per run (mean and p95),
-- latency p50/p95, error rate, tokens and the share of input served from cache.
-- Quantiles are exact up to 8,192 runs per agent and estimated from a uniform sample of
-- 8,192 runs above that (bounded memory: a 3-million-run tenant stays under 300 MB).
select
    agent,
    count(*) as runs,
    sum(cost_usd)::decimal(38, 12) as total_cost_usd,  -- null when every run is unpriced, never $0
    (sum(cost_usd) / nullif(count(cost_usd), 0))::decimal(38, 12) as avg_cost_usd,
    reservoir_quantile(cost_usd::double, 0.95, 8192)::decimal(38, 12) as p95_cost_usd,
    reservoir_quantile(latency_ms, 0.5, 8192) as p50_latency_ms,
    reservoir_quantile(latency_ms, 0.95, 8192) as p95_latency_ms,
    avg(case when status <> 'Success' then 1.0 else 0.0 end) as error_rate,
    sum(input_tokens)::bigint as input_tokens,
    sum(output_tokens)::bigint as output_tokens,
    sum(cache_read_tokens)::double / nullif(sum(input_tokens), 0) as cache_read_share,
    count(*) filter (where unpriced) as unpriced_runs
from inv_src($inv_files)
where tenant = $tenant and started_at >= $start and started_at < $end
group by agent
order by total_cost_usd desc nulls last, agent
limit $top_n
