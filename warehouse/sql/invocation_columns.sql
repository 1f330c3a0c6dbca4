-- name: invocation_columns
-- The invocation list's columns: a select list, not a query. The page (invocations.sql),
-- the parts' top lists (toplist_build.sql) and the page over them (invocations_top.sql) share it.
invocation_id, started_at, agent, provider, model, status, error_type, "trigger", user_id, session_id,
    input_tokens, output_tokens, cache_read_tokens, cost_usd, unpriced, latency_ms, round_count,
    left(user_message, 200) as user_message_preview
