-- name: tenant_totals
-- Live figures for one tenant from its recent partitions: runs today, errors in the
-- last 24 h, cost today, and the same figures one day earlier (for deltas).
-- All-time total_runs comes from the part files' row counts, not from this query.
-- Cost is the sum of known costs; a day whose runs are all unpriced has no known cost (null,
-- never $0), and unpriced_today counts the runs the figure leaves out.
select
    count(*) filter (where started_at >= $day_start and started_at < $now_excl) as runs_today,
    count(*) filter (where started_at >= $day_start - interval 1 day and started_at < $day_start)
        as runs_yesterday,
    count(*) filter (where status <> 'Success' and started_at >= $now_excl - interval 24 hour
                     and started_at < $now_excl) as errors_24h,
    count(*) filter (where status <> 'Success' and started_at >= $now_excl - interval 48 hour
                     and started_at < $now_excl - interval 24 hour) as errors_prev_24h,
    case when count(*) filter (where started_at >= $day_start and started_at < $now_excl) > 0
              and count(cost_usd) filter (where started_at >= $day_start and started_at < $now_excl) = 0
         then null
         else coalesce(sum(cost_usd) filter (where started_at >= $day_start and started_at < $now_excl), 0)
    end as cost_today_usd,
    count(*) filter (where unpriced and started_at >= $day_start and started_at < $now_excl) as unpriced_today,
    case when count(*) filter (where started_at >= $day_start - interval 1 day and started_at < $day_start) > 0
              and count(cost_usd) filter (where started_at >= $day_start - interval 1 day
                                          and started_at < $day_start) = 0
         then null
         else coalesce(sum(cost_usd) filter (where started_at >= $day_start - interval 1 day
                                             and started_at < $day_start), 0)
    end as cost_yesterday_usd
from inv_src($inv_files)
where tenant = $tenant
