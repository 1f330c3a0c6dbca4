-- name: invocation_filter
-- The invocation list's filters: a predicate, not a query. The page (invocations.sql)
-- and its count (invocations_count.sql) take it through their filter slot.
tenant = $tenant and started_at >= $start and started_at < $end
  and ($agent is null or agent = $agent)
  and ($model is null or model = $model)
  and ($provider is null or provider = $provider)
  and ($status is null or status = $status)
  and ($statuses is null or list_contains($statuses, status))  -- several statuses: any of them
  and ($trigger is null or "trigger" = $trigger)
  and ($user_id is null or user_id = $user_id)
  and ($session_id is null or session_id = $session_id)
  and ($min_cost is null or cost_usd >= $min_cost)
  and ($text is null
       or contains(lower(coalesce(user_message, '')), lower($text))
       or contains(lower(coalesce(response, '')), lower($text)))
