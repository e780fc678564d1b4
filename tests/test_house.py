"""The house rules, checked on the code itself: who may import what, no circles, and a wheel that runs its main job."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOMS = {"lorascope.core": REPO / "core", "lorascope.store": REPO / "store", "lorascope.tui": REPO / "tui",
         "lorascope": REPO / "lorascope"}


def modules() -> dict[str, Path]:
    out = {}
    for package, folder in ROOMS.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([package, *parts])] = path
    return out


def imports_of(name: str, path: Path) -> set[str]:
    """Every lorascope module ``name`` imports, at module level or inside functions (relative ones resolved)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("lorascope"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("lorascope"):
                subs = {f"{target}.{a.name}" for a in node.names}
                known_subs = subs & set(modules())
                if node.module is not None or not known_subs:   # `from . import fields` imports fields only
                    found.add(target)
                found.update(known_subs)
    known = modules()
    return {m for m in found if m in known and m != name}


def room(module: str) -> str:
    for package in ("lorascope.core", "lorascope.store", "lorascope.tui"):
        if module == package or module.startswith(package + "."):
            return package
    return "lorascope"


GRAPH = {name: imports_of(name, path) for name, path in modules().items()}


def test_core_imports_nothing_of_ours_above_it_and_store_only_core():
    for name, deps in GRAPH.items():
        rooms = {room(d) for d in deps}
        if room(name) == "lorascope.core":
            assert rooms <= {"lorascope.core"}, (name, deps)
        if room(name) == "lorascope.store":
            assert rooms <= {"lorascope.core", "lorascope.store"}, (name, deps)


def test_the_inspector_never_imports_the_command_line():
    commands = {m for m in GRAPH if m.startswith("lorascope.cmd_") or m in ("lorascope.cli", "lorascope.launch")}
    for name, deps in GRAPH.items():
        if room(name) == "lorascope.tui":
            assert not deps & commands, (name, deps & commands)
            assert {room(d) for d in deps} <= {"lorascope.core", "lorascope.store", "lorascope.tui"}, (name, deps)


def test_no_module_imports_itself_through_a_circle():
    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for dep in GRAPH.get(todo.pop(), ()):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen

    for name in GRAPH:
        circle = name in reach(name)
        if circle:   # a package's __init__ re-exporting its modules is not a circle of logic: name the real ones
            via = sorted(d for d in GRAPH[name] if name in reach(d) and not name.startswith(d + "."))
            assert not via, f"{name} imports itself through {via}"


# Files allowed past 400 lines because they do one job (none today: the loop and the store were split).
ONE_JOB_LONG_FILES: dict[str, int] = {}


def test_no_package_file_grows_past_the_house_limit():
    """No package file over 400 lines unless it is named above as doing one job (and then within its own limit)."""
    long = {rel: n for p in modules().values()
            if (n := len(p.read_text().splitlines())) > ONE_JOB_LONG_FILES.get(rel := str(p.relative_to(REPO)), 400)}
    assert not long, long


def build_wheel(dist: Path) -> None:
    """Build the wheel offline (no build isolation) with this interpreter, or, where its setuptools cannot (a
    virtualenv with an old setuptools and no `wheel`), with the base interpreter it was made from."""
    errors = []
    for python in dict.fromkeys([sys.executable, getattr(sys, "_base_executable", sys.executable)]):
        build = subprocess.run([python, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist),
                                str(REPO)], capture_output=True, text=True, timeout=600)
        if build.returncode == 0:
            return
        errors.append(f"{python}: {build.stderr[-1500:]}")
    raise AssertionError("\n".join(errors))


def fresh_venv_seeing_these_packages(venv: Path) -> Path:
    """A new virtualenv whose interpreter sees the packages this test runs with, offline: made from the base
    interpreter (``-m venv --system-site-packages`` from inside a virtualenv would see the base interpreter's
    packages, not the virtualenv's), plus a .pth naming this interpreter's site-packages folders. Plain folder
    lines: their own .pth files (an editable lorascope) stay unread, so only the wheel's lorascope is found."""
    import site
    import sysconfig

    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True,
                   timeout=300)
    py = venv / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    ours = [p for p in dict.fromkeys([*site.getsitepackages(), sysconfig.get_paths()["purelib"]]) if Path(p).is_dir()]
    (Path(purelib) / "outer-site-packages.pth").write_text("".join(f"{p}\n" for p in ours))
    return py


@pytest.mark.slow
def test_the_wheel_installs_in_a_fresh_venv_and_trains_on_its_bundled_sample_sets(tmp_path):
    dist = tmp_path / "dist"
    build_wheel(dist)
    (wheel,) = dist.glob("lorascope-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "lorascope/sample_data/train.jsonl" in names
    assert "lorascope/sample_data/demo-adapter/lorascope.json" in names
    venv = tmp_path / "venv"
    py = fresh_venv_seeing_these_packages(venv)
    install = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    work = tmp_path / "elsewhere"     # not the repository: the sample sets must come from the installed package
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("LORASCOPE_SAMPLE_DATA", "PYTHONPATH")}
    env.update(LORASCOPE_DB=str(work / "store.db"), OMP_NUM_THREADS="1")
    where = subprocess.run([str(py), "-c", "import lorascope, lorascope.samples as s; print(lorascope.__file__); "
                            "print(s.sample_data_dir())"], capture_output=True, text=True, cwd=work, env=env)
    assert where.returncode == 0, where.stderr
    assert all(str(venv) in line for line in where.stdout.split()), where.stdout   # the wheel's copy, not the repo's
    run = subprocess.run([str(venv / "bin" / "lorascope"), "train", "--strategy", "lora", "--model", "tiny-random",
                          "--steps", "2", "--test", "none"], capture_output=True, text=True, cwd=work, env=env,
                         timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "run 1: lora on sample-train (1000 lists), dev sample-dev" in run.stderr
