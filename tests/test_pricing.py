"""Prices: genai-prices resolved once, overrides per tenant/model, unknown models unpriced."""

import datetime as dt
from decimal import Decimal

import genai_prices
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.pricing import PriceBook
from tests.lakeread import rows

TODAY = (dt.datetime.now(dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).days


def test_known_case_by_hand(make_recorder):
    # gpt-4o: $2.50/M input, $1.25/M cached input, $10/M output.
    # 200 uncached * 2.5 + 1000 cached * 1.25 + 80 * 10 = 500 + 1250 + 800 = 2550 per million = $0.00255.
    rec = make_recorder()
    with rec.invocation(tenant="acme", agent="etl", provider="openai", model="gpt-4o", trigger="task") as inv:
        with inv.round(messages=[{"role": "user", "content": "hi"}], request_params={"temperature": 0}) as r:
            r.set_response(text="hello", tool_calls=[], stop_reason="stop",
                           usage={"input_tokens": 1200, "output_tokens": 80, "cache_read_tokens": 1000})
    assert inv.cost_usd == Decimal("0.00255")
    assert rec.flush()
    (i,) = rows(rec.lake, "invocations")
    (r,) = rows(rec.lake, "rounds")
    assert i["cost_usd"] == r["cost_usd"] == inv.cost_usd == Decimal("0.00255")
    assert r["price_source"].startswith("genai-prices")


@pytest.mark.parametrize("usage", [None, {}])
def test_a_response_without_usage_is_unpriced_not_free(make_recorder, usage):
    # An OpenAI-compatible server that ignores stream_options.include_usage returns no usage at all.
    rec = make_recorder()
    with rec.invocation(tenant="acme", agent="etl", provider="openai", model="gpt-4o", trigger="task") as inv:
        with inv.round(messages=[{"role": "user", "content": "hi"}]) as r:
            r.set_response(text="hello", stop_reason="stop", usage=usage)
    assert inv.cost_usd is None and r.cost_usd is None
    assert rec.flush()
    (i,) = rows(rec.lake, "invocations")
    (rr,) = rows(rec.lake, "rounds")
    assert i["cost_usd"] is None and i["unpriced"] is True and rr["cost_usd"] is None and rr["unpriced"] is True


MODELS = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"),
          ("anthropic", "claude-3-5-haiku-latest"), ("openai", "o3-mini"), ("google", "gemini-2.5-flash")]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(MODELS), st.integers(0, 400_000), st.integers(0, 50_000), st.data())
def test_matches_genai_prices_calc_price(model, inp, out, data):
    provider, name = model
    cr = data.draw(st.integers(0, inp))
    cw = data.draw(st.integers(0, inp - cr)) if provider == "anthropic" else 0
    book = PriceBook()
    price = book.lookup("t", provider, name, TODAY)
    assert price is not None
    ours = Decimal(price.cost_picos(inp, out, cr, cw)).scaleb(-12)
    usage = genai_prices.Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cr, cache_write_tokens=cw)
    theirs = genai_prices.calc_price(usage, name, provider_id=provider).total_price
    assert ours == theirs.quantize(Decimal("1e-12"))


def test_unknown_model_is_unpriced_never_zero(make_recorder):
    rec = make_recorder()
    with rec.invocation(tenant="acme", agent="a", provider="openai", model="my-own-model-x") as inv:
        with inv.round() as r:
            r.set_response("x", usage={"input_tokens": 100, "output_tokens": 10})
    assert inv.cost_usd is None and inv.unpriced
    assert rec.flush()
    (i,) = rows(rec.lake, "invocations")
    (rd,) = rows(rec.lake, "rounds")
    assert i["cost_usd"] is None and i["unpriced"] is True
    assert rd["cost_usd"] is None and rd["unpriced"] is True and rd["price_source"] is None


def test_overrides_per_tenant_and_model(tmp_path, make_recorder):
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '[[price]]\nprovider = "openai"\nmodel = "ft:gpt-4o:acme"\ninput_mtok = "3.75"\noutput_mtok = "15"\n'
        'cache_read_mtok = "1.875"\n\n'
        '[[price]]\nprovider = "openai"\nmodel = "gpt-4o"\ntenant = "bigco"\ninput_mtok = "2"\noutput_mtok = "8"\n'
    )
    rec = make_recorder(prices=str(prices))
    usage = {"input_tokens": 1_000_000, "output_tokens": 1_000_000, "cache_read_tokens": 0}
    costs = {}
    for tenant, model in (("acme", "ft:gpt-4o:acme"), ("bigco", "gpt-4o"), ("acme", "gpt-4o")):
        with rec.invocation(tenant=tenant, agent="a", provider="openai", model=model) as inv, inv.round() as r:
            r.set_response("x", usage=usage)
        costs[(tenant, model)] = (inv.cost_usd, r._price_source)
    assert costs[("acme", "ft:gpt-4o:acme")] == (Decimal("18.75"), "override:prices.toml")
    assert costs[("bigco", "gpt-4o")] == (Decimal("10"), "override:prices.toml")
    assert costs[("acme", "gpt-4o")][0] == Decimal("12.5")
    assert costs[("acme", "gpt-4o")][1].startswith("genai-prices")


def test_bad_overrides_file(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text('[[price]]\nprovider = "openai"\n')
    with pytest.raises(ValueError, match="prices"):
        PriceBook(p)


def test_long_context_tier():
    price = PriceBook().lookup("t", "anthropic", "claude-sonnet-4-5", TODAY)
    # Above 200k input tokens every token is billed at the long-context rate ($6/M instead of $3/M).
    assert Decimal(price.cost_picos(200_000, 0, 0, 0)).scaleb(-12) == Decimal("0.6")
    assert Decimal(price.cost_picos(200_001, 0, 0, 0)).scaleb(-12) == Decimal("1.200006")
