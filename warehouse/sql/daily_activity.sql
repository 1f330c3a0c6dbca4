-- name: daily_activity
-- Per UTC day of [start, end), every day present: runs, errors (not Success) and unpriced runs of one tenant.
with days as (
    select unnest(generate_series($start::timestamptz, $end::timestamptz - interval 1 day, interval 1 day)) as day
),
agg as (
    select date_trunc('day', started_at) as day,
           count(*) as runs,
           count(*) filter (where status <> 'Success') as errors,
           count(*) filter (where unpriced) as unpriced_runs
    from inv_src($inv_files)
    where tenant = $tenant and started_at >= $start and started_at < $end
    group by 1
)
select d.day, coalesce(a.runs, 0)::bigint as runs, coalesce(a.errors, 0)::bigint as errors,
       coalesce(a.unpriced_runs, 0)::bigint as unpriced_runs,
       case when coalesce(a.runs, 0) = 0 then null else a.errors / a.runs end as error_rate
from days d left join agg a on a.day = d.day
order by d.day
