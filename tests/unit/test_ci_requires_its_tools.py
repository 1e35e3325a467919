"""A test tool or module that is missing fails the run under CI=true, as a missing server does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_run(tmp_path: Path, hidden: str, *args: str, ci: bool) -> subprocess.CompletedProcess:
    """pytest in a child process in which ``hidden`` cannot be imported (as if not installed)."""
    (tmp_path / "hide_module.py").write_text(f"import sys\nsys.modules[{hidden!r}] = None\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    # The child runs without the plugins installed packages register (schemathesis has one), but
    # with the one the suite needs: the hidden module is gone before anything can import it.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "hide_module",
            "-p",
            "pytest_asyncio.plugin",
            "-q",
            "-o",
            "addopts=",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("ci", [True, False])
def test_the_fuzz_test_without_schemathesis_fails_collection_in_ci_and_is_skipped_elsewhere(tmp_path, ci):
    run = pytest_run(tmp_path, "schemathesis", "tests/integration/test_fuzz.py", "-rs", ci=ci)
    out = run.stdout + run.stderr
    if ci:
        assert run.returncode == 2 and "error during collection" in out, out  # 2: interrupted
        assert "schemathesis is required in CI" in out, out
    else:
        assert run.returncode == 5 and "1 skipped" in out and "schemathesis" in out, out  # 5: no test ran


@pytest.mark.parametrize("ci", [True, False])
def test_the_ops_catalogue_tests_fail_in_ci_when_a_service_module_is_missing(tmp_path, ci):
    run = pytest_run(
        tmp_path,
        "baton_delivery.projections",
        "tests/unit/test_ops_catalogue.py",
        "-k",
        "projections_are_in_the_catalogue and delivery",
        "-rs",
        ci=ci,
    )
    out = run.stdout + run.stderr
    if ci:
        assert run.returncode == 1 and "1 failed" in out and "required in CI" in out, out
    else:
        assert run.returncode == 0 and "1 skipped" in out, out
