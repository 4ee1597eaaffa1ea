"""The locks (requirements/run.txt, requirements/dev.txt) against pyproject.toml's ranges: every
package the project names is pinned, inside its range, and both locks pin shared packages alike."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def lock_lines(path: Path) -> list[Requirement]:
    found = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier  # a lock line pins exactly one version
            assert spec.operator == "==", f"{path.name}: {raw!r} is not an exact pin"
            found.append(requirement)
    return found


def pins(path: Path) -> dict[str, Version]:
    return {
        canonicalize_name(r.name): Version(next(iter(r.specifier)).version)
        for r in lock_lines(path)
    }


def wanted(*groups: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    lines = list(project["dependencies"]) + list(PYPROJECT["build-system"]["requires"])
    for group in groups:
        lines += project["optional-dependencies"][group]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize(("lock", "groups"), [("run.txt", ()), ("dev.txt", ("dev",))])
def test_every_package_the_project_names_is_pinned_inside_its_range(
    lock: str, groups: tuple[str, ...]
) -> None:
    pinned = pins(ROOT / "requirements" / lock)
    problems = []
    for requirement in wanted(*groups):
        name = canonicalize_name(requirement.name)
        if name not in pinned:
            problems.append(f"{requirement} is not in requirements/{lock}")
        elif not requirement.specifier.contains(pinned[name], prereleases=True):
            problems.append(
                f"requirements/{lock} pins {name}=={pinned[name]}, outside {requirement}"
            )
    assert not problems, "\n".join(problems) + "\nrun: sh requirements/refresh.sh --no-upgrade"


def test_run_and_dev_locks_agree_on_every_shared_package() -> None:
    run = pins(ROOT / "requirements" / "run.txt")
    dev = pins(ROOT / "requirements" / "dev.txt")
    assert set(run) <= set(dev), f"only in run.txt: {sorted(set(run) - set(dev))}"
    differ = {name: (run[name], dev[name]) for name in run if run[name] != dev[name]}
    assert not differ, f"run.txt and dev.txt disagree: {differ}"


def test_the_locks_and_build_tools_are_what_the_installed_environment_runs() -> None:
    # The test environment itself must come from the lock: a package installed by hand at
    # another version would make a green run here mean nothing on a fresh machine.
    from importlib.metadata import PackageNotFoundError, version

    off = {}
    for requirement in lock_lines(ROOT / "requirements" / "dev.txt"):
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue  # for another platform or Python (tzdata on Windows, say)
        pinned = Version(next(iter(requirement.specifier)).version)
        try:
            installed: Version | str = Version(version(requirement.name))
        except PackageNotFoundError:
            installed = "nothing"
        if installed != pinned:
            off[requirement.name] = f"installed {installed}, locked {pinned}"
    assert not off, f"{off}\ninstall from the lock: pip install -r requirements/dev.txt"
