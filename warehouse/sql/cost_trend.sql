-- name: cost_trend
-- Cost, runs and tokens per period (UTC) for one tenant, split by a whitelisted
-- column ({split}); every period of the range is present, as zero when empty.
with src as (
    select date_trunc($grain, started_at) as period, {split} as split, cost_usd, unpriced,
           input_tokens, output_tokens, cache_read_tokens
    from inv_src($inv_files)
    where tenant = $tenant and started_at >= $start and started_at < $end
),
periods as (
    select unnest(generate_series(date_trunc($grain, $start::timestamptz), $end::timestamptz - interval 1 microsecond,
                                  $step::interval)) as period
),
splits as ({splits}),
agg as (
    select period, split,
           sum(cost_usd) as cost_usd,
           count(*) as runs,
           count(*) filter (where unpriced) as unpriced_runs,
           sum(input_tokens)::bigint as input_tokens,
           sum(output_tokens)::bigint as output_tokens,
           sum(cache_read_tokens)::bigint as cache_read_tokens
    from src
    group by all
)
select p.period, s.split,
       -- an empty period costs 0; a period whose runs are all unpriced has no known cost (null)
       (case when a.runs is null then 0 else a.cost_usd end)::decimal(38, 12) as cost_usd,
       coalesce(a.runs, 0) as runs,
       coalesce(a.unpriced_runs, 0) as unpriced_runs,
       coalesce(a.input_tokens, 0)::bigint as input_tokens,
       coalesce(a.output_tokens, 0)::bigint as output_tokens,
       coalesce(a.cache_read_tokens, 0)::bigint as cache_read_tokens
from periods p
cross join splits s
left join agg a on a.period = p.period and a.split is not distinct from s.split
order by p.period, s.split
