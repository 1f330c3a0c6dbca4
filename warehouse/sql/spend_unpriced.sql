-- name: spend_unpriced
-- Usage that has no known cost, with the reason, counted apart and never as $0.
-- Rows written before schema version 2 carry no reason: an unknown model then.
select
    model,
    provider,
    coalesce(unpriced_reason, 'unknown_model') as reason,
    count(*) as rounds,
    count(distinct invocation_id) as invocations,
    sum(input_tokens)::bigint as input_tokens,
    sum(output_tokens)::bigint as output_tokens
from rounds_src($round_files)
where tenant = $tenant and started_at >= $start and started_at < $end and unpriced
group by all
order by rounds desc, model
