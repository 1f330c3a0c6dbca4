-- name: cost_trend
-- Cost, runs and tokens per period (UTC) for one tenant, split by a whitelisted
-- column ({split}); every period of the range is present, as zero when empty.
-- Raw rows ($inv_files) are summed per $bucket_us (an hour or a day, as epoch
-- microseconds: date_trunc on millions of timestamps is slow) and added to the
-- rollups' sums of the same split ($rollup_files, $dim); only then are the few
-- buckets truncated to the grain.
with raw as (
    select (epoch_us(started_at) // $bucket_us) * $bucket_us as t_us, {split} as split,
           count(*) as runs,
           count(*) filter (where unpriced) as unpriced_runs,
           sum(cost_usd) as cost_usd,
           sum(input_tokens) as input_tokens,
           sum(output_tokens) as output_tokens,
           sum(cache_read_tokens) as cache_read_tokens
    from inv_src($inv_files)
    where tenant = $tenant and started_at >= $start and started_at < $end
    group by all
),
rolled as (
    select (t_us // $bucket_us) * $bucket_us as t_us, {rollup_split} as split,
           sum(runs) as runs, sum(unpriced_runs) as unpriced_runs, sum(cost_usd) as cost_usd,
           sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens,
           sum(cache_read_tokens) as cache_read_tokens
    from read_parquet($rollup_files)
    where kind = 'sum' and dim = $dim
    group by all
),
src as (
    -- explicit columns and a positional union (raw and rolled list them in one order): the
    -- subset of SQL that Spark shares with DuckDB (warehouse/spark.py transpiles this file)
    select date_trunc($grain, make_timestamp(t_us)::timestamptz) as period, split, runs, unpriced_runs,
           cost_usd, input_tokens, output_tokens, cache_read_tokens
    from (select * from raw union all select * from rolled)
),
periods as (
    select unnest(generate_series(date_trunc($grain, $start::timestamptz), $end::timestamptz - interval 1 microsecond,
                                  $step::interval)) as period
),
splits as ({splits}),
agg as (
    select period, split,
           sum(cost_usd) as cost_usd,
           sum(runs)::bigint as runs,
           sum(unpriced_runs)::bigint as unpriced_runs,
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
