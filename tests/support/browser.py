"""Debian's chromium for the browser tests (``.ci/run`` installs it) and where screenshots go."""

import os
import shutil

from tests.support import ROOT

ART = os.path.join(ROOT, "test-artifacts")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
