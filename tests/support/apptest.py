"""Running a dashboard page through streamlit.testing's AppTest, as a local or a logged-in user."""

from __future__ import annotations

import os
import time

from streamlit.testing.v1 import AppTest

from tests.support import ROOT

APP = os.path.join(ROOT, "app.py")
AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "s" * 32, "client_id": "x",
        "client_secret": "y", "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration"}


def app(lake, monkeypatch, page=None, secrets=None, user=None, **params):
    """One run of ``page`` on ``lake`` (query parameters from ``params``); fails on any exception it shows."""
    monkeypatch.setenv("INVLOG_LAKE", lake)
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in (secrets or {}).items():
        at.secrets[k] = v
    if user is not None:
        at.user = user
    for k, v in params.items():
        at.query_params[k] = v
    if page:
        at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def login_user(email="alice@example.com", verified=True, iat=None, sub="alice"):
    """``st.user`` of a logged-in visitor (an OIDC identity)."""
    return {"is_logged_in": True, "email": email, "email_verified": verified, "sub": sub, "iss": "http://idp",
            "iat": int(time.time()) if iat is None else iat}
