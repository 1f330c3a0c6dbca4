-- name: rollup_build
-- The rollup of one invocations part file (registered as the view "part"): per hour,
-- runs, priced and unpriced runs, errors, exact cost and tokens, split by agent, model,
-- provider and trigger (by day for users: there are many); and per agent, log-bucketed
-- sketches of cost per run and latency for quantiles. Keys are the dashboard's split values.
with src as (
    select (epoch_us(started_at) // 3600000000) * 3600000000 as hour_us,
           (epoch_us(started_at) // 86400000000) * 86400000000 as day_us,
           agent, model, provider, coalesce(user_id, '(none)') as user_key, "trigger", status,
           cost_usd, unpriced, latency_ms, input_tokens, output_tokens, cache_read_tokens
    from part
),
sums as (
    select case when grouping(agent) = 0 then 'agent' when grouping(model) = 0 then 'model'
                when grouping(provider) = 0 then 'provider' when grouping("trigger") = 0 then 'trigger'
                else 'user' end as dim,
           case when grouping(agent) = 0 then agent when grouping(model) = 0 then model
                when grouping(provider) = 0 then provider when grouping("trigger") = 0 then "trigger"
                else user_key end as key,
           case when grouping(user_key) = 0 then day_us else hour_us end as t_us,
           count(*) as runs, count(cost_usd) as priced_runs, count(*) filter (where unpriced) as unpriced_runs,
           count(*) filter (where status <> 'Success') as errors, sum(cost_usd) as cost_usd,
           sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens,
           sum(cache_read_tokens) as cache_read_tokens
    from src
    group by grouping sets ((agent, hour_us), (model, hour_us), (provider, hour_us), ("trigger", hour_us),
                            (user_key, day_us))
),
points as (
    select agent, 'cost' as metric, cost_usd::double as v from src where cost_usd is not null
    union all
    select agent, 'latency' as metric, latency_ms as v from src where latency_ms is not null
)
select 'sum' as kind, dim, key, t_us, null::varchar as metric, null::integer as bucket,
       runs, priced_runs, unpriced_runs, errors, cost_usd::decimal(38, 12) as cost_usd,
       input_tokens::bigint as input_tokens, output_tokens::bigint as output_tokens,
       cache_read_tokens::bigint as cache_read_tokens,
       null::bigint as n, null::double as vmin, null::double as vmax
from sums
union all
select 'sketch', 'agent', agent, null, metric, sketch_bucket(v), null, null, null, null, null, null, null, null,
       count(*), min(v), max(v)
from points
group by agent, metric, sketch_bucket(v)
