-- name: expensive_agents
-- Agents ranked by total cost in a period: runs, cost per run (mean and p95),
-- latency p50/p95, error rate, tokens and the share of input served from cache.
-- Sums are exact: raw rows ($inv_files) plus the rollups of whole days ($rollup_files).
-- Quantiles come from log-bucketed sketches (sketch_bucket: every value in a bucket is
-- within 1% of its representative), merged across raw rows and rollups; the representative
-- is clamped to the smallest and largest value in its bucket (exact when they are equal).
-- So a quantile is within 1% of the exact nearest-rank quantile, at any size.
with raw as (
    select agent, status, cost_usd, unpriced, latency_ms, input_tokens, output_tokens, cache_read_tokens
    from inv_src($inv_files)
    where tenant = $tenant and started_at >= $start and started_at < $end
),
sums as (
    select agent, count(*) as runs, count(cost_usd) as priced_runs,
           count(*) filter (where unpriced) as unpriced_runs,
           count(*) filter (where status <> 'Success') as errors, sum(cost_usd) as cost_usd,
           sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens,
           sum(cache_read_tokens) as cache_read_tokens
    from raw
    group by agent
    union all by name
    select key as agent, sum(runs) as runs, sum(priced_runs) as priced_runs, sum(unpriced_runs) as unpriced_runs,
           sum(errors) as errors, sum(cost_usd) as cost_usd, sum(input_tokens) as input_tokens,
           sum(output_tokens) as output_tokens, sum(cache_read_tokens) as cache_read_tokens
    from read_parquet($rollup_files)
    where kind = 'sum' and dim = 'agent'
    group by key
),
per_agent as (
    select agent, sum(runs) as runs, sum(priced_runs) as priced_runs, sum(unpriced_runs) as unpriced_runs,
           sum(errors) as errors, sum(cost_usd) as cost_usd, sum(input_tokens) as input_tokens,
           sum(output_tokens) as output_tokens, sum(cache_read_tokens) as cache_read_tokens
    from sums
    group by agent
),
points as (
    select agent, 'cost' as metric, cost_usd::double as v from raw where cost_usd is not null
    union all
    select agent, 'latency' as metric, latency_ms as v from raw where latency_ms is not null
),
buckets as (
    select agent, metric, bucket, sum(n) as n, min(vmin) as vmin, max(vmax) as vmax
    from (
        select agent, metric, sketch_bucket(v) as bucket, count(*) as n, min(v) as vmin, max(v) as vmax
        from points
        group by all
        union all
        select key, metric, bucket, n, vmin, vmax
        from read_parquet($rollup_files)
        where kind = 'sketch'
    )
    group by all
),
ranked as (
    select *, sum(n) over (partition by agent, metric order by bucket rows unbounded preceding) as upto,
           sum(n) over (partition by agent, metric) as total,
           greatest(vmin, least(vmax, sketch_value(bucket))) as v
    from buckets
),
quantiles as (
    -- nearest rank: the value of the bucket holding the ceil(q n)-th smallest value
    select agent,
           arg_min(v, bucket) filter (where metric = 'cost' and upto >= ceil(0.95 * total)) as p95_cost,
           arg_min(v, bucket) filter (where metric = 'latency' and upto >= ceil(0.5 * total)) as p50_latency,
           arg_min(v, bucket) filter (where metric = 'latency' and upto >= ceil(0.95 * total)) as p95_latency
    from ranked
    group by agent
)
select
    a.agent,
    a.runs::bigint as runs,
    a.cost_usd::decimal(38, 12) as total_cost_usd,  -- null when every run is unpriced, never $0
    (a.cost_usd / nullif(a.priced_runs, 0))::decimal(38, 12) as avg_cost_usd,
    q.p95_cost::decimal(38, 12) as p95_cost_usd,
    q.p50_latency as p50_latency_ms,
    q.p95_latency as p95_latency_ms,
    a.errors / a.runs as error_rate,
    a.input_tokens::bigint as input_tokens,
    a.output_tokens::bigint as output_tokens,
    a.cache_read_tokens::double / nullif(a.input_tokens, 0) as cache_read_share,
    a.unpriced_runs::bigint as unpriced_runs
from per_agent a
left join quantiles q using (agent)
order by total_cost_usd desc nulls last, a.agent
limit $top_n
