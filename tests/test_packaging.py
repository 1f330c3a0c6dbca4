"""The distribution as a user gets it: a wheel and ``pip install .`` into fresh virtual environments.

The tree is copied as git would commit it (tracked and untracked-but-not-ignored
files), built with the project's own build backend, and installed into new venvs
whose only other packages are this project's dependencies (a ``.pth`` file points
at the test environment's site-packages, so nothing is downloaded). Everything
then runs from a directory outside the checkout: the imports, ``invlog --help``,
``invlog demo`` and ``invlog dashboard``, which must serve the pages shipped in the
wheel.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys

import pytest

from tests.support import ROOT
from tests.support.servers import free_port, stop, wait_healthy

pytestmark = pytest.mark.slow


def _copy_tree(dest: str) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = os.path.join(ROOT, rel)
        if os.path.isfile(src) and "node_modules" not in rel:
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, rel))


def _venv(path: str) -> tuple[str, str]:
    """A fresh venv that sees this environment's packages (the dependencies) through a .pth file."""
    subprocess.run([sys.executable, "-m", "venv", path], check=True)
    py = os.path.join(path, "bin", "python")
    purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    with open(os.path.join(purelib, "zz-test-deps.pth"), "w") as f:
        f.write("\n".join(site.getsitepackages()) + "\n")
    return py, purelib


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INVLOG_", "PYTHONPATH"))}
    return env


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    src = str(tmp_path_factory.mktemp("src") / "invocation-logs")
    _copy_tree(src)
    return src


@pytest.fixture(scope="module")
def wheel_env(tree, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp / "dist"), tree], check=True)
    (wheel,) = os.listdir(tmp / "dist")
    py, purelib = _venv(str(tmp / "venv"))
    before = set(os.listdir(purelib))
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(tmp / "dist" / wheel)],
                   check=True)
    outside = tmp / "elsewhere"
    outside.mkdir()
    return py, purelib, str(outside), set(os.listdir(purelib)) - before


def _run(py: str, cwd: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([py, *args], cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=120,
                          **kw)


def test_wheel_installs_only_product_named_top_level_packages(wheel_env):
    _py, purelib, _outside, added = wheel_env
    ours = {n for n in added if not n.endswith(".dist-info")}
    assert ours == {"invlog", "recorder", "warehouse"}, added
    assert not {"schema", "ui", "app", "pages", "tests", "bench"} & set(os.listdir(purelib))
    shipped = os.path.join(purelib, "invlog", "_app")
    assert os.path.isfile(os.path.join(shipped, "app.py")) and os.path.isfile(os.path.join(shipped, "pages",
                                                                                          "trace.py"))
    assert os.path.isfile(os.path.join(shipped, ".streamlit", "config.toml"))
    assert os.listdir(os.path.join(purelib, "warehouse", "sql")) and os.listdir(os.path.join(purelib, "recorder",
                                                                                           "data"))


def test_imports_and_cli_work_from_any_directory(wheel_env):
    py, purelib, outside, _ = wheel_env
    code = ("import sys, recorder, invlog.lake; print('streamlit' in sys.modules or 'duckdb' in sys.modules); "
            "import warehouse; print(recorder.__file__, warehouse.__file__)")
    out = _run(py, outside, "-c", code)
    assert out.returncode == 0, out.stderr
    loaded, paths = out.stdout.splitlines()
    assert loaded == "False" and all(p.startswith(purelib) for p in paths.split()), out.stdout
    invlog = os.path.join(os.path.dirname(py), "invlog")
    help_out = subprocess.run([invlog, "--help"], cwd=outside, env=_clean_env(), capture_output=True, text=True)
    assert help_out.returncode == 0 and "dashboard" in help_out.stdout and "report" in help_out.stdout
    lake = os.path.join(outside, "lake")
    demo = subprocess.run([invlog, "demo", "--lake", lake, "--tenants", "1", "--days", "1", "--runs-per-day", "5"],
                          cwd=outside, env=_clean_env(), capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stderr
    summary = subprocess.run([invlog, "summary", "--lake", lake], cwd=outside, env=_clean_env(),
                             capture_output=True, text=True)
    assert summary.returncode == 0 and summary.stdout.startswith("acme"), summary.stdout + summary.stderr


@pytest.mark.browser
def test_invlog_dashboard_serves_the_installed_pages(wheel_env):
    from playwright.sync_api import sync_playwright

    from tests.support.browser import CHROMIUM, FLAGS

    py, purelib, outside, _ = wheel_env
    invlog = os.path.join(os.path.dirname(py), "invlog")
    lake = os.path.join(outside, "dash-lake")
    subprocess.run([invlog, "demo", "--lake", lake, "--tenants", "1", "--days", "2", "--runs-per-day", "8"],
                   cwd=outside, env=_clean_env(), check=True, capture_output=True, timeout=120)
    port = free_port()
    proc = subprocess.Popen([invlog, "dashboard", "--lake", lake, "--port", str(port)], cwd=outside,
                            env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(f"{url}/_stcore/health", proc, "invlog dashboard")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            pg = browser.new_page()
            pg.goto(f"{url}/cost_trends?tenant=acme")
            pg.get_by_text("Cost per day").first.wait_for(timeout=30_000)
            assert pg.locator('[data-testid="stException"]').count() == 0
            browser.close()
    finally:
        log = stop(proc)
    served = _run(py, outside, "-c", "import invlog.cli; print(invlog.cli.dashboard_dir())").stdout.strip()
    assert served == os.path.join(purelib, "invlog", "_app")  # the wheel's copy: no checkout in sight
    assert "Inotify" not in log and "Traceback" not in log, log[-2000:]


def test_pip_install_from_a_checkout(tree, tmp_path):
    py, purelib = _venv(str(tmp_path / "venv"))
    out = subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", tree],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    check = _run(py, str(tmp_path), "-c", "import recorder, warehouse, invlog.cli; print(invlog.cli.dashboard_dir())")
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == os.path.join(purelib, "invlog", "_app")
