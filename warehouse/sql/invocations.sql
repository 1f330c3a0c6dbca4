-- name: invocations
-- One page of the filtered, sorted list of invocations of one tenant (a top-N,
-- not a full sort). Sorting ({order_by}) comes from a whitelist; ties break on the id.
select
    invocation_id, started_at, agent, provider, model, status, error_type, trigger, user_id, session_id,
    input_tokens, output_tokens, cache_read_tokens, cost_usd, unpriced, latency_ms, round_count,
    left(user_message, 200) as user_message_preview
from inv_src($inv_files)
where tenant = $tenant and started_at >= $start and started_at < $end
  and ($agent is null or agent = $agent)
  and ($model is null or model = $model)
  and ($provider is null or provider = $provider)
  and ($status is null or status = $status)
  and ($trigger is null or "trigger" = $trigger)
  and ($user_id is null or user_id = $user_id)
  and ($session_id is null or session_id = $session_id)
  and ($min_cost is null or cost_usd >= $min_cost)
  and ($text is null
       or contains(lower(coalesce(user_message, '')), lower($text))
       or contains(lower(coalesce(response, '')), lower($text)))
order by {order_by}, invocation_id desc
limit $limit offset $offset
