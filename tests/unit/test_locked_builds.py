"""Builds that are the same twice: every install takes its versions from the lock.

``uv.lock`` (uv's lock, with hashes) and ``requirements.lock`` (the same pins for pip)
come from ``make lock``; ``make install`` (so ``make run``, ``make test``, ``.ci/run``)
and every image in ``deploy/Dockerfile`` install with ``-c requirements.lock``.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = [
    "pyproject.toml",
    "shared/pyproject.toml",
    "ops/pyproject.toml",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "services").glob("*/pyproject.toml")),
]


def pins() -> dict[str, Requirement]:
    """requirements.lock, by normalised name."""
    found = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            found[canonicalize_name(requirement.name)] = requirement
    return found


def pinned_version(requirement: Requirement) -> str:
    [spec] = requirement.specifier  # one specifier, ==
    assert spec.operator == "==" and "*" not in spec.version, requirement
    return spec.version


def workspace_members() -> set[str]:
    return {canonicalize_name(tomllib.loads((ROOT / p).read_text())["project"]["name"]) for p in PROJECTS}


def test_every_pin_is_exact_and_is_uv_lock_s():
    locked = tomllib.loads((ROOT / "uv.lock").read_text())
    in_uv = {canonicalize_name(p["name"]): p["version"] for p in locked["package"] if "version" in p}
    third_party = {name: version for name, version in in_uv.items() if name not in workspace_members()}
    exported = {name: pinned_version(r) for name, r in pins().items()}
    assert exported == third_party, "requirements.lock is not uv.lock's export: run `make lock UPGRADE=`"


def test_the_lock_satisfies_every_dependency_the_projects_declare():
    """A dependency added or narrowed in a pyproject file without `make lock` fails here."""
    locked, members = pins(), workspace_members()
    for project in PROJECTS:
        spec = tomllib.loads((ROOT / project).read_text())["project"]
        declared = list(spec.get("dependencies", []))
        for extra in spec.get("optional-dependencies", {}).values():
            declared += extra
        for line in declared:
            wanted = Requirement(line)
            name = canonicalize_name(wanted.name)
            if name in members:
                continue
            assert name in locked, f"{project}: {wanted.name} is not in requirements.lock: run `make lock UPGRADE=`"
            version = pinned_version(locked[name])
            assert wanted.specifier.contains(version, prereleases=True), f"{project}: {line} but the lock has {version}"


def test_this_environment_was_installed_from_the_lock():
    """What `make install` installed is what the lock says (bench extras: when installed)."""
    differ, matched = [], 0
    for name, requirement in pins().items():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        matched += 1
        if have != pinned_version(requirement):
            differ.append(f"{name} {have} (locked {pinned_version(requirement)})")
    assert not differ, f"installed without the lock (make install takes it): {differ}"
    assert matched > 40  # the runtime and test dependencies are all there


def test_every_install_takes_the_lock():
    makefile = (ROOT / "Makefile").read_text()
    stamp = re.search(r"^\$\(STAMP\):(.*)$", makefile, re.MULTILINE).group(1)
    assert "$(LOCK)" in stamp.split() and "LOCK   := requirements.lock" in makefile  # a new lock reinstalls
    installs = [line for line in makefile.splitlines() if "pip install" in line and " -e " in line]
    assert installs and all("-c $(LOCK)" in line for line in installs), installs
    assert re.search(r"^lock:", makefile, re.MULTILINE)  # the one command that upgrades
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    runs = [line for line in dockerfile.splitlines() if line.startswith("RUN") and "pip install" in line]
    assert runs and all("-c /src/requirements.lock" in line for line in runs), runs
    assert dockerfile.index("COPY requirements.lock /src/requirements.lock") < dockerfile.index(runs[0])
    assert "make test" in (ROOT / ".ci" / "run").read_text()
