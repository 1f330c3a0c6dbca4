-- name: cache_totals
-- Every round of [start, end) counted per day, agent, prompt name and version, and model: rounds,
-- input tokens, the recorded cost of priced rounds and the unpriced ones (cache economics adds
-- its savings and premiums, computed from the rounds with cache activity, to these groups).
with inv as (
    select invocation_id, agent, prompt_name, prompt_version
    from inv_src($inv_files)
    where tenant = $tenant and started_at >= $start - interval 1 day and started_at < $end
)
select
    cast(r.started_at as date) as day,
    i.agent,
    coalesce(i.prompt_name, '(none)') as prompt_name,
    coalesce(i.prompt_version, '(none)') as prompt_version,
    r.model,
    count(*) as rounds,
    count(*) filter (where r.unpriced or r.cost_usd is null) as unpriced_rounds,
    coalesce(sum(r.input_tokens), 0) as input_tokens,
    coalesce(sum(r.cost_usd) filter (where not r.unpriced), 0)::decimal(38, 12) as cost_usd
from rounds_src($round_files) r
join inv i on i.invocation_id = r.invocation_id
where r.tenant = $tenant and r.started_at >= $start and r.started_at < $end
group by all
