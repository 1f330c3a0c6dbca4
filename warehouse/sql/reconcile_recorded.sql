-- name: reconcile_recorded
-- What the lake recorded of one provider for one tenant, per UTC day and model: model calls
-- (rounds), tokens in the lake's convention, and the known cost (unpriced rounds apart).
select
    cast(started_at as date) as day,
    model,
    count(*) as rounds,
    coalesce(sum(input_tokens), 0) as input_tokens,
    coalesce(sum(output_tokens), 0) as output_tokens,
    coalesce(sum(cache_read_tokens), 0) as cache_read_tokens,
    coalesce(sum(cache_write_tokens), 0) as cache_write_tokens,
    coalesce(sum(cost_usd) filter (where not unpriced), 0)::decimal(38, 12) as cost_usd,
    count(*) filter (where unpriced) as unpriced_rounds
from rounds_src($round_files)
where tenant = $tenant and started_at >= $start and started_at < $end and provider = $provider
group by all
order by day, model
