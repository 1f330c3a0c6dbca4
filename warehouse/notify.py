"""Sending a notification through apprise (Slack, Teams, e-mail, webhooks, ...), one rule's targets at once.

Targets are resolved here, at send time (``env:NAME``, ``secret:NAME`` or a literal URL:
``invlog.rules.config.resolve_target``), so a URL and the credentials it carries never reach the
lake; errors name the target's reference, never the URL. Apprise keeps its state in memory only
(no persistent store on disk).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import apprise

from invlog.rules.config import RulesError, resolve_target

log = logging.getLogger("invocation_logs.alerts")
KINDS = {"info": apprise.NotifyType.INFO, "warning": apprise.NotifyType.WARNING,
         "failure": apprise.NotifyType.FAILURE, "success": apprise.NotifyType.SUCCESS}


@dataclass(frozen=True)
class Sent:
    delivered: bool
    error: str | None = None


def send(targets: tuple[str, ...], title: str, body: str, kind: str = "info", *, secrets: str | None = None,
         timeout: float = 10.0) -> Sent:
    """Deliver to every target; ``delivered`` only when all of them accepted it."""
    if not targets:
        return Sent(False, "no notify targets")
    hub = apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory", result_log_disk_size=0))
    for i, target in enumerate(targets, 1):
        label = target if "://" not in target else f"target #{i} ({target.split('://')[0]}://...)"
        try:
            url = resolve_target(target, secrets)
        except RulesError as exc:
            return Sent(False, str(exc))
        if not hub.add(url):
            return Sent(False, f"notify {label}: apprise cannot use this URL (unknown scheme or malformed)")
    result = hub.notify(body=body, title=title, notify_type=KINDS[kind], timeout=timeout)
    if result:
        return Sent(True)
    failed = getattr(result, "failed_count", None)
    return Sent(False, f"{failed if failed is not None else 'some'} of {len(targets)} targets did not accept it")
