"""Trace: one invocation, its rounds on a timeline and the four views of each round."""

import json

import streamlit as st

from invlog.dashboard import data, fmt, state
from warehouse.charts import timeline_figure

tenant, tz = state.sidebar()
iid = st.text_input("Invocation id", state.param("id", ""))
state.set_params(id=iid)
if not iid:
    st.info("Open a trace from the Invocations page, or paste an invocation id.")
    st.stop()
t = state.guarded(data.trace, data.lake_url(), tenant, iid)
if t is None:
    st.warning(f"No invocation {iid!r} in tenant {tenant!r}.")
    st.stop()
inv, rounds = t["invocation"], t["rounds"]
st.title(f"Trace · {inv['agent']}")
st.caption(f"{iid} · started {fmt.when(inv['started_at'], tz)} ({tz}; UTC {fmt.when(inv['started_at'], 'UTC')})")
# Short values as metrics (they stay readable at 1280 px); names, which can be long, in a line of text.
state.metric_row([("Cost", fmt.money(inv["cost_usd"])), ("Latency", fmt.ms(inv["latency_ms"])),
                  ("Input tokens", fmt.tokens(inv["input_tokens"])),
                  ("Output tokens", fmt.tokens(inv["output_tokens"])), ("Rounds", f"{inv['round_count']:,}")],
                 key="trace-header")
colour = "green" if inv["status"] == "Success" else "red"
st.markdown(f":{colour}[**{inv['status']}**] · **{inv['provider']}** · `{inv['model']}` · trigger **{inv['trigger']}**"
            + (f" · user `{inv['user_id']}`" if inv["user_id"] else "")
            + (f" · session `{inv['session_id']}`" if inv["session_id"] else ""))
if inv["status"] != "Success":
    st.error(f"{inv['status']}: {inv['error_type'] or ''} {inv['error_message'] or ''}")
if rounds.height:
    st.plotly_chart(timeline_figure(rounds), width="stretch", key="timeline")


def _json(value: str | None) -> object:
    try:
        return json.loads(value) if value else None
    except ValueError:
        return value  # truncated JSON is shown as text


def _show_content(content: object) -> None:
    """A message's content: text as text, content parts as their text and the files they carry."""
    if isinstance(content, str) or content is None:
        st.write(content or "—")
        return
    for part in content if isinstance(content, list) else [content]:
        if isinstance(part, dict) and part.get("type") == "text":
            st.write(part.get("text") or "")
        elif isinstance(part, dict) and part.get("type") == "file":
            where = part.get("url") or part.get("source") or ""
            kind = part.get("media_type") or "unknown type"
            st.markdown(f"Attached file **{part.get('filename') or 'file'}** ({kind}"
                        + (f", from {where}" if where else "") + ")")
        else:
            st.json(part, expanded=False)


memory = t["memory_context"] or []
for r in rounds.iter_rows(named=True):
    with st.expander(f"Round {r['round_index']} · {r['model']} · {r['status']} · {fmt.money(r['cost_usd'])} · "
                     f"{fmt.ms(r['latency_ms'])}", expanded=rounds.height <= 3):
        tab_rr, tab_prompt, tab_cost, tab_meta = st.tabs(["Request / Response", "Prompt", "Cost breakdown",
                                                          "Metadata"])
        with tab_rr:
            messages = _json(r["messages"]) or []
            # The memory the agent injected (after the system prompt) is shown once, under Memory, not per round.
            skip = len(memory) if memory and len(messages) > len(memory) else 0
            first = 1 if messages and messages[0].get("role") == "system" else 0
            for k, m in enumerate(messages):
                if first <= k < first + skip:
                    if k == first:
                        st.caption(f"↳ {skip} messages of session memory (shown once, under Memory below)")
                    continue
                with st.chat_message(m.get("role", "user") if m.get("role") in ("user", "assistant") else "ai"):
                    st.caption(m.get("role", ""))
                    _show_content(m.get("content"))
                    if m.get("tool_calls"):
                        st.json(m["tool_calls"], expanded=False)
            st.markdown("**Response**")
            st.write(r["response"] or "—")
            calls = _json(r["tool_calls"]) or []
            if calls:
                st.markdown("**Tool calls** (arguments and the result your code returned)")
                for c in calls:
                    took = f" · {fmt.ms(c['duration_us'] / 1000)}" if c.get("duration_us") is not None else ""
                    st.markdown(f"`{c.get('name')}`{took}" + (f" · error: {c['error']}" if c.get("error") else ""))
                    st.json({"arguments": c.get("arguments"), "result": c.get("result")}, expanded=False)
        with tab_prompt:
            st.write(f"Prompt **{inv['prompt_name'] or '—'}** version **{inv['prompt_version'] or '—'}**")
            st.markdown("**Rendered system prompt**")
            st.code(inv["system_prompt"] or "—", language=None)
            st.markdown("**Variables**")
            st.json(_json(inv["variables"]) or {})
            st.markdown("**System variables**")
            st.json(_json(inv["system_variables"]) or {})
        with tab_cost:
            c = st.columns(4)
            c[0].metric("Stop reason", r["stop_reason"] or "—")
            c[1].metric("Input tokens", fmt.tokens(r["input_tokens"]))
            c[2].metric("Output tokens", fmt.tokens(r["output_tokens"]))
            c[3].metric("Cost", fmt.money(r["cost_usd"]))
            c = st.columns(4)
            c[0].metric("Cache read", fmt.tokens(r["cache_read_tokens"]))
            c[1].metric("Cache creation", fmt.tokens(r["cache_write_tokens"]))
            c[2].metric("Reasoning", fmt.tokens(r["reasoning_tokens"]))
            c[3].metric("Latency", fmt.ms(r["latency_ms"]))
            extra = {"5-minute cache writes": r.get("cache_write_5m_tokens"),
                     "1-hour cache writes": r.get("cache_write_1h_tokens"),
                     "Audio in": r.get("input_audio_tokens"), "Audio out": r.get("output_audio_tokens"),
                     "Web searches": r.get("web_search_requests")}
            shown = [(k, v) for k, v in extra.items() if v]
            if shown:
                c = st.columns(len(shown))
                for col, (k, v) in zip(c, shown, strict=True):
                    col.metric(k, fmt.tokens(v))
            st.caption(fmt.price_note(r))
            if r.get("reported_cost_usd") is not None:
                st.caption(fmt.reported_note(r["reported_cost_usd"], r["cost_usd"]))
        with tab_meta:
            st.json({"trigger": inv["trigger"], "user_id": inv["user_id"], "task_id": inv["task_id"],
                     "session_id": inv["session_id"], "model": r["model"], "provider": r["provider"],
                     "status": r["status"], "error_type": r["error_type"], "error_message": r["error_message"],
                     "started_at": fmt.when(r["started_at"], tz), "ended_at": fmt.when(r["ended_at"], tz),
                     "time_to_first_token": fmt.ms(r["ttft_ms"]), "timezone": tz,
                     **({"opentelemetry_trace_id": inv["trace_id"], "incomplete": bool(inv.get("incomplete"))}
                        if inv.get("trace_id") else {})})
            st.markdown("**Raw request parameters** (secrets redacted before storage)")
            st.json(_json(r["request_params"]) or {})
            st.markdown("**Raw provider usage**")
            st.json(_json(r["raw_usage"]) or {})

if t["attachments"]:
    st.subheader("Attachments")
    head = st.columns([3, 2, 1, 1, 2, 2])
    for col, label in zip(head, ("File", "Media type", "Size", "Source", "SHA-256", "Copy"), strict=True):
        col.markdown(f"**{label}**")
    for i, a in enumerate(t["attachments"]):
        c = st.columns([3, 2, 1, 1, 2, 2])
        c[0].write(a["filename"])
        c[1].write(a["media_type"])
        c[2].write(fmt.tokens(a.get("size")) + " B" if a.get("size") is not None else "—")
        c[3].write(a["source"])
        c[4].code((a.get("sha256") or "—")[:12], language=None)
        if a.get("url"):
            c[5].markdown(f"[{a['url']}]({a['url']})")
        elif a.get("uri"):
            state.download_button(c[5], "Download", lambda uri=a["uri"]: data.read_attachment(tenant, uri),
                                  file_name=a["filename"], mime=a["media_type"] or "application/octet-stream",
                                  key=f"att-{i}")  # read when clicked
        else:
            c[5].write(f"not mirrored: {a.get('error') or ''}")

if t["memory_context"]:
    st.subheader("Memory: the history the model saw")
    for m in t["memory_context"]:
        with st.chat_message(m.get("role", "user")):
            st.write(m.get("content"))
            if m.get("invocation_id"):
                st.page_link("pages/trace.py", label="from this run",
                             query_params={"tenant": tenant, "id": m["invocation_id"]})
