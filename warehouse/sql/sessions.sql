-- name: sessions
-- The sessions of one tenant that had runs in [start, end) (optionally one user's): runs, the
-- user, agents, known cost (null when all unpriced), unpriced runs, tokens, errors, and the span
-- from the first run's start to the last run's end. Newest first.
select
    session_id,
    min(user_id) as user_id,
    string_agg(distinct agent, ', ' order by agent) as agents,
    count(*) as runs,
    count(*) filter (where status <> 'Success') as errors,
    case when count(cost_usd) = 0 then null else sum(cost_usd) end::decimal(38, 12) as cost_usd,
    count(*) filter (where unpriced) as unpriced_runs,
    (coalesce(sum(input_tokens), 0) + coalesce(sum(output_tokens), 0))::bigint as tokens,
    min(started_at) as started_at,
    max(ended_at) as ended_at,
    epoch_ms(max(ended_at)) - epoch_ms(min(started_at)) as duration_ms
from inv_src($inv_files)
where tenant = $tenant and started_at >= $start and started_at < $end and session_id is not null
  and ($user_id is null or user_id = $user_id)
group by session_id
order by max(started_at) desc, session_id
limit $limit
