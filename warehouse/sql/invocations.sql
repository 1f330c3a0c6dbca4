-- name: invocations
-- One page of the filtered, sorted list of invocations of one tenant (a top-N,
-- not a full sort). Sorting ({order_by}) comes from a whitelist; ties break on the id.
select
    invocation_id, started_at, agent, provider, model, status, error_type, trigger, user_id, session_id,
    input_tokens, output_tokens, cache_read_tokens, cost_usd, unpriced, latency_ms, round_count,
    left(user_message, 200) as user_message_preview
from inv_src($inv_files)
where {filter}
order by {order_by}, invocation_id desc
limit $limit offset $offset
