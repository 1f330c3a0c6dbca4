-- name: users
-- Per user of one tenant in [start, end): runs, errors and error rate, known cost (null when
-- every run of the user is unpriced: unknown, never $0), unpriced runs, tokens, first and last run.
select
    coalesce(user_id, '(none)') as user_id,
    count(*) as runs,
    count(*) filter (where status <> 'Success') as errors,
    count(*) filter (where status <> 'Success') / count(*) as error_rate,
    case when count(cost_usd) = 0 then null else sum(cost_usd) end::decimal(38, 12) as cost_usd,
    count(*) filter (where unpriced) as unpriced_runs,
    coalesce(sum(input_tokens), 0)::bigint as input_tokens,
    coalesce(sum(output_tokens), 0)::bigint as output_tokens,
    min(started_at) as first_run,
    max(started_at) as last_run
from inv_src($inv_files)
where tenant = $tenant and started_at >= $start and started_at < $end
group by 1
order by cost_usd desc nulls last, runs desc, user_id
limit $limit
