-- name: cache_rounds
-- What prompt-cache economics needs of each round that read from or wrote to a prompt cache,
-- from start to lookahead_end (the period plus
-- the longest cache TTL, so a write near the period's end can be found read back): its billed
-- usage and price inputs, and the agent, prompt name and version and model its cache reads
-- and writes are matched by. in_period marks the rounds of [start, end) itself.
with inv as (
    select invocation_id, agent, prompt_name, prompt_version
    from inv_src($inv_files)
    where tenant = $tenant and started_at >= $start - interval 1 day and started_at < $lookahead_end
), rnd as (
    select * from rounds_src($round_files)
    where tenant = $tenant and started_at >= $start and started_at < $lookahead_end
      and (cache_read_tokens > 0 or cache_write_tokens > 0)
)
select
    r.invocation_id,
    r.round_index,
    cast(r.started_at as date) as day,
    epoch_us(r.started_at) as started_us,
    r.started_at >= $start and r.started_at < $end as in_period,
    i.agent,
    coalesce(i.prompt_name, '(none)') as prompt_name,
    coalesce(i.prompt_version, '(none)') as prompt_version,
    r.provider,
    r.model,
    r.cost_usd as recorded_cost_usd,
    r.unpriced,
    r.price_source,
    r.input_tokens,
    r.output_tokens,
    r.cache_read_tokens,
    r.cache_write_tokens,
    r.reasoning_tokens,
    coalesce(r.cache_write_5m_tokens, 0) as cache_write_5m_tokens,
    coalesce(r.cache_write_1h_tokens, 0) as cache_write_1h_tokens,
    coalesce(r.input_audio_tokens, 0) as input_audio_tokens,
    coalesce(r.output_audio_tokens, 0) as output_audio_tokens,
    coalesce(r.web_search_requests, 0) as web_search_requests,
    r.other_usage,
    r.service_tier,
    coalesce(r.batch, false) as batch
from rnd r
join inv i on i.invocation_id = r.invocation_id
order by r.started_at, r.invocation_id, r.round_index
