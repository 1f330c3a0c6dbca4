-- name: spend_unpriced
-- Usage that has no price (unknown models), counted apart and never as $0.
select
    model,
    provider,
    count(*) as rounds,
    count(distinct invocation_id) as invocations,
    sum(input_tokens)::bigint as input_tokens,
    sum(output_tokens)::bigint as output_tokens
from rounds_src($round_files)
where tenant = $tenant and started_at >= $start and started_at < $end and unpriced
group by all
order by rounds desc, model
