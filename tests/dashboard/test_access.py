"""Access rules without a browser: configuration validation, e-mail matching, admins, server-side sessions."""

from __future__ import annotations

import pytest

from invlog.dashboard import access_config
from invlog.dashboard.access import Identity, allowed_tenants, may_administer
from invlog.dashboard.access_config import AccessConfig, AccessConfigError, parse
from invlog.dashboard.sessions import DOWNLOAD_TTL, LOGIN_WINDOW, SessionStore

AUTH = {"redirect_uri": "http://h/oauth2callback", "cookie_secret": "c", "client_id": "i", "client_secret": "s",
        "server_metadata_url": "http://h/.well-known/openid-configuration"}


def test_defaults_are_local_mode_with_every_tenant():
    cfg = parse({})
    assert not cfg.login and cfg.local_user == ("*",) and cfg.require_verified_email


def test_emails_are_matched_case_insensitively_and_duplicates_refused():
    cfg = parse({"auth": AUTH, "access": {"users": {" Alice@Example.com": ["acme"]}}})
    assert cfg.grant("alice@EXAMPLE.com") == ("acme",) and cfg.grant("bob@example.com") == () and cfg.grant("") == ()
    with pytest.raises(AccessConfigError, match="listed twice"):
        parse({"auth": AUTH, "access": {"users": {"a@x.io": ["acme"], "A@X.io": ["globex"]}}})


@pytest.mark.parametrize("missing", sorted(access_config.AUTH_REQUIRED))
def test_every_required_auth_key_is_checked(missing):
    auth = {k: v for k, v in AUTH.items() if k != missing}
    with pytest.raises(AccessConfigError, match=missing):
        parse({"auth": auth})
    with pytest.raises(AccessConfigError, match=missing):
        parse({"auth": {**AUTH, missing: "  "}})


def test_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text('# access\n[access]\nlocal_user = ["acme"]\n\n[access.users]\n"bob" = ["acme"]\n')
    with pytest.raises(AccessConfigError) as err:
        access_config.load([str(path)])
    assert str(err.value).startswith(f"{path}, line 6:") and "not an e-mail" in str(err.value)


def test_later_files_override_earlier_ones_and_unreadable_files_fail(tmp_path):
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text('[access]\nlocal_user = ["acme"]\n')
    second.write_text('[access]\nlocal_user = ["globex"]\n')
    assert access_config.load([str(first), str(second), str(tmp_path / "absent.toml")]).local_user == ("globex",)
    second.write_bytes(b"\xff\xfe")
    with pytest.raises(AccessConfigError, match="cannot be read"):
        access_config.load([str(first), str(second)])


def test_allowed_and_admin_tenants():
    cfg = parse({"auth": AUTH, "access": {"users": {"alice@example.com": ["acme", "globex"]},
                                          "admins": {"alice@example.com": ["acme"]}}})
    alice = Identity("alice@example.com", "k", cfg)
    assert allowed_tenants(alice, ["globex", "acme", "initech"]) == ["acme", "globex"]
    assert may_administer(alice, "acme") and not may_administer(alice, "globex")
    viewer = Identity("carol@example.com", "k2", cfg)
    assert allowed_tenants(viewer, ["acme"]) == [] and not may_administer(viewer, "acme")
    local = Identity("local", None, AccessConfig(local_user=("acme",)))
    assert allowed_tenants(local, ["acme", "globex"]) == ["acme"] and may_administer(local, "acme")
    assert not may_administer(local, "globex")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def claims(clock: Clock, **kw):
    return {"iss": "http://idp", "sub": "alice", "email": "alice@example.com", "iat": int(clock.now), **kw}


def test_a_session_starts_only_from_a_fresh_login():
    clock = Clock()
    store = SessionStore(clock)
    old = claims(clock, iat=int(clock.now - LOGIN_WINDOW - 1))
    assert store.check(old, max_age=3600, idle=600) == (False, "this server does not know this login "
                                                        "(it may have restarted)")
    assert store.check(claims(clock, iat=None), max_age=3600, idle=600)[0] is False
    fresh = claims(clock)
    assert store.check(fresh, max_age=3600, idle=600) == (True, "")
    clock.now += LOGIN_WINDOW + 100  # later page runs of the same login keep working
    assert store.check(fresh, max_age=3600, idle=600)[0]


def test_idle_timeout_max_age_and_logout_end_a_login_for_good():
    clock = Clock()
    store = SessionStore(clock)
    a = claims(clock, sub="a")
    assert store.check(a, max_age=3600, idle=600)[0]
    clock.now += 601
    assert store.check(a, max_age=3600, idle=600) == (False, "this login has expired")
    assert store.check(a, max_age=3600, idle=600) == (False, "this login has ended (logged out or expired)")

    b = claims(clock, sub="b")
    for _ in range(7):  # active every 9 minutes, but the login is older than max_age at the end
        assert store.check(b, max_age=3600, idle=600)[0]
        clock.now += 540
    assert store.check(b, max_age=3600, idle=600) == (False, "this login has expired")

    c = claims(clock, sub="c")
    assert store.check(c, max_age=3600, idle=600)[0]
    store.end(store_key(c))
    assert not store.check(c, max_age=3600, idle=600)[0] and not store.active(store_key(c))


def store_key(c):
    from invlog.dashboard.sessions import session_key

    return session_key(c)


def test_downloads_are_served_only_to_their_live_owner_for_a_short_while():
    clock = Clock()
    store = SessionStore(clock)
    alice, bob = claims(clock, sub="alice"), claims(clock, sub="bob", email="bob@example.com")
    assert store.check(alice, max_age=3600, idle=3600)[0] and store.check(bob, max_age=3600, idle=3600)[0]
    store.register_file("f1", store_key(alice))
    assert store.may_fetch("f1", store_key(alice))
    assert not store.may_fetch("f1", store_key(bob)) and not store.may_fetch("f1", None)
    assert not store.may_fetch("other", store_key(alice))
    clock.now += DOWNLOAD_TTL + 1
    assert not store.may_fetch("f1", store_key(alice))
    store.register_file("f2", store_key(alice))
    store.end(store_key(alice))
    assert not store.may_fetch("f2", store_key(alice))
