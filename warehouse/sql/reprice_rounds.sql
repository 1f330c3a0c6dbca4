-- name: reprice_rounds
-- What repricing needs of each round in a period: the billed usage (columns added in schema
-- version 2 read as 0 in older rows), the tier and the recorded cost.
select
    invocation_id,
    round_index,
    cast(started_at as date) as day,
    started_at,
    epoch_us(started_at) as started_us,
    provider,
    model,
    cost_usd as recorded_cost_usd,
    unpriced as recorded_unpriced,
    price_source,
    unpriced_reason,
    input_tokens,
    output_tokens,
    cache_read_tokens,
    cache_write_tokens,
    reasoning_tokens,
    coalesce(cache_write_5m_tokens, 0) as cache_write_5m_tokens,
    coalesce(cache_write_1h_tokens, 0) as cache_write_1h_tokens,
    coalesce(input_audio_tokens, 0) as input_audio_tokens,
    coalesce(output_audio_tokens, 0) as output_audio_tokens,
    coalesce(web_search_requests, 0) as web_search_requests,
    other_usage,
    service_tier,
    coalesce(batch, false) as batch
from rounds_src($round_files)
where tenant = $tenant and started_at >= $start and started_at < $end
order by started_at, invocation_id, round_index
