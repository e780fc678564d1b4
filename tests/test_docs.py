"""Docs that cannot drift: the commands reference is the click tree, and every path, module, console example and
link the docs name still holds."""

from __future__ import annotations

import ast
import importlib.util
import re
import shlex
import subprocess
import sys
import unicodedata
from pathlib import Path

import click
import pytest

from lorascope.cli import cli
from tools import capture, gen_commands_doc

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
REFERENCE = DOCS / "reference" / "commands.md"
PAGES = sorted([REPO / "README.md", *DOCS.rglob("*.md")])
# Top-level folders whose paths the docs may name; a path under one of them must exist.
ROOTS = ("core", "store", "tui", "lorascope", "tests", "tools", "benchmarks", "sample_data", "docs", ".ci")
PATH = re.compile(r"(?<![\w./~-])((?:%s)/[\w./<>*-]*)" % "|".join(re.escape(r) for r in ROOTS))
MODULE = re.compile(r"`((?:lorascope\.)?(?:core|store|tui|jobs)\.[A-Za-z_][\w.]*)")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FILE_SUFFIXES = {"md", "py", "db", "json", "jsonl", "svg", "yml", "tcss"}
FENCE = re.compile(r"^\s*```(\w*)")


def rel(page: Path) -> str:
    return str(page.relative_to(REPO))


def blocks(text: str) -> list[tuple[str, str]]:
    """The page cut into (fence language or '' for prose, text) pieces in order."""
    out, lang, buf = [], None, []
    for line in text.splitlines(keepends=True):
        m = FENCE.match(line)
        if m and lang is None:
            out.append(("", "".join(buf)))
            lang, buf = m.group(1) or "code", []
        elif line.strip().startswith("```") and lang is not None:
            out.append((lang, "".join(buf)))
            lang, buf = None, []
        else:
            buf.append(line)
    out.append(("" if lang is None else lang, "".join(buf)))
    return out


def click_tree() -> dict[str, click.Command]:
    return {path: cmd for path, cmd, _ in gen_commands_doc.commands(cli)}


def option_names(cmd: click.Command) -> set[str]:
    return {o for p in cmd.params if isinstance(p, click.Option) for o in p.opts + p.secondary_opts}


def reference_sections() -> dict[str, str]:
    text = REFERENCE.read_text(encoding="utf-8")
    parts = re.split(r"^## `([^`]+)`\n", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


# (a) the commands reference and --help


def named_options(section: str) -> set[str]:
    """The options a reference section's table names (``-o, --output FILE`` names two)."""
    names = set()
    for cell in re.findall(r"^\| `(-[^`]+)`", section, flags=re.M):
        names.update(re.findall(r"(?<![\w-])(--?\w[\w-]*)", cell.split(" [")[0]))
    return names


def test_commands_reference_is_generated_from_the_click_tree():
    assert REFERENCE.read_text(encoding="utf-8") == gen_commands_doc.render(cli), (
        "docs/reference/commands.md is out of date: run python -m tools.gen_commands_doc")


def test_every_command_and_option_in_help_is_in_the_reference():
    sections = reference_sections()
    for path, cmd in click_tree().items():
        assert path in sections, f"{path} is missing from docs/reference/commands.md"
        named = named_options(sections[path])
        for name in option_names(cmd):
            assert name in named, f"{path} {name} is not in the reference"
        # what --help prints names every one of them too
        help_text = cmd.get_help(click.Context(cmd, info_name=path.split()[-1]))
        for name in option_names(cmd):
            assert name in help_text


def test_every_command_and_option_the_reference_names_exists():
    tree = click_tree()
    for path, body in reference_sections().items():
        assert path in tree, f"the reference names {path}, which is no command"
        for name in named_options(body):
            assert name in option_names(tree[path]), f"the reference names {path} {name}, which is no option"


def test_readme_commands_table_lists_every_command():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| `(lorascope[\w ]*)` \|", text, flags=re.M)
    assert sorted(table) == sorted(click_tree())


def test_the_reference_generator_notices_a_new_option():
    """Regenerating is what keeps the reference current: a command with one more option renders differently."""

    @click.group(name="lorascope")
    def root():
        """Root."""

    @root.command("demo")
    @click.option("--alpha", type=int, help="The alpha.")
    def demo(alpha):
        """A demo command."""

    before = gen_commands_doc.render(root)
    demo.params.append(click.Option(["--beta"], is_flag=True, help="The beta | with a pipe."))
    after = gen_commands_doc.render(root)
    assert "`--alpha INTEGER` | The alpha." in before and "--beta" not in before
    assert "| `--beta` | The beta \\| with a pipe. |" in after


# (b) paths and modules


def test_every_path_the_docs_name_exists():
    missing = []
    for page in PAGES:
        for lang, text in blocks(page.read_text(encoding="utf-8")):
            if lang == "text":          # screen captures and file listings: not paths of this repository
                continue
            for match in PATH.finditer(text):
                path = match.group(1).rstrip(".,:;")
                if any(ch in path for ch in "*<>"):
                    continue
                if not (REPO / path).exists():
                    missing.append(f"{rel(page)}: {path}")
    assert not missing, "paths named in the docs that do not exist:\n" + "\n".join(missing)


#: Where each installed package's source lies in the checkout (pyproject.toml's package-dir).
PACKAGE_DIRS = {"core": REPO / "core", "store": REPO / "store", "tui": REPO / "tui", "sample_data": REPO / "sample_data"}


def _source(parts: list[str]) -> Path | None:
    """The source file of module ``lorascope.<parts>``, found in the checkout without importing anything."""
    base = PACKAGE_DIRS.get(parts[0], REPO / "lorascope" / parts[0]) if parts else REPO / "lorascope"
    folder = base.joinpath(*parts[1:]) if parts else base
    if folder.is_dir() and (folder / "__init__.py").exists():
        return folder / "__init__.py"
    if folder.with_suffix(".py").exists():
        return folder.with_suffix(".py")
    return None


def _names(body: list[ast.stmt]) -> set[str]:
    names = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def module_exists(dotted: str) -> bool:
    """``lorascope.core.training.train.train`` or ``core.metrics.delta_wer``: the longest prefix that is a module of the
    checkout, and the rest a name defined at its top level (or in a class there), read from the source."""
    parts = dotted.rstrip(".").split(".")
    if parts[0] == "lorascope":
        parts = parts[1:]
    for cut in range(len(parts), 0, -1):
        source = _source(parts[:cut])
        if source is None:
            continue
        rest = parts[cut:]
        if not rest:
            return True
        tree = ast.parse(source.read_text(encoding="utf-8"))
        if rest[0] not in _names(tree.body):
            return False
        if len(rest) == 1:
            return True
        classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == rest[0]]
        return bool(classes) and len(rest) == 2 and rest[1] in _names(classes[0].body)
    return False


def test_every_module_the_docs_name_exists():
    missing = []
    for page in PAGES:
        for dotted in MODULE.findall(page.read_text(encoding="utf-8")):
            if dotted.rsplit(".", 1)[-1] in FILE_SUFFIXES:     # store.md is a page, not a module
                continue
            if not module_exists(dotted):
                missing.append(f"{rel(page)}: {dotted}")
    assert not missing, "modules or names in the docs that do not exist:\n" + "\n".join(missing)


def test_module_check_tells_a_missing_name():
    assert module_exists("lorascope.core.data.metrics.delta_wer")
    assert module_exists("core.training.train.train")
    assert not module_exists("core.metrics.no_such_function")
    assert not module_exists("lorascope.core.no_such_module")


def test_every_store_table_is_in_the_schema_reference(tmp_path):
    import sqlite3

    from lorascope.store import Store

    with Store(tmp_path / "s.db"):
        pass
    tables = {r[0] for r in sqlite3.connect(tmp_path / "s.db").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    text = (DOCS / "reference" / "store-schema.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(\w+)`", text))
    missing = {t for t in tables if t not in named and not t.startswith("utterance_search_")}
    assert not missing, f"tables of a fresh store missing from docs/reference/store-schema.md: {sorted(missing)}"


# (c) console examples


def console_commands() -> list[tuple[str, str]]:
    out = []
    for page in PAGES:
        for lang, text in blocks(page.read_text(encoding="utf-8")):
            if lang != "console":
                continue
            for line in text.splitlines():
                if line.startswith("$ lorascope"):
                    out.append((rel(page), line[2:]))
    return out


def parse(line: str) -> click.Context:
    """Parse a ``lorascope ...`` line as the command would (types, choices, required options), without running it."""
    words = shlex.split(line, comments=True)
    for stop in ("|", ">", "&&", ";"):
        if stop in words:
            words = words[:words.index(stop)]
    ctx = cli.make_context("lorascope", words[1:])
    rest = [*getattr(ctx, "_protected_args", []), *ctx.args] if hasattr(ctx, "_protected_args") else \
        [*ctx.protected_args, *ctx.args]
    if not rest:
        return ctx
    name, cmd, args = cli.resolve_command(ctx, rest)
    return cmd.make_context(name, args, parent=ctx)


def test_docs_have_console_examples():
    assert len(console_commands()) >= 8


@pytest.mark.parametrize("page,line", console_commands())
def test_console_example_parses(page, line):
    try:
        parse(line)
    except click.ClickException as exc:
        pytest.fail(f"{page}: `{line}` no longer parses: {exc.format_message()}")


def test_commands_named_in_prose_exist_with_their_options():
    """`lorascope train --resume RUN` in a sentence: the command exists and so does every option named after it."""
    tree, wrong = click_tree(), []
    for page in PAGES:
        for lang, text in blocks(page.read_text(encoding="utf-8")):
            if lang:
                continue
            for span in re.findall(r"`(lorascope(?: [^`]*)?)`", text):
                words = span.split(":")[0].split()
                path = "lorascope"
                for word in words[1:]:
                    if f"{path} {word}" in tree:
                        path = f"{path} {word}"
                    elif not word.startswith("-") and path == "lorascope" and word.isidentifier():
                        wrong.append(f"{rel(page)}: `{span}`: no command {word!r}")
                        break
                known = option_names(tree[path]) | option_names(cli) | {"--help"}
                for name in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", span.split(":")[0]):
                    if name not in known:
                        wrong.append(f"{rel(page)}: `{span}`: {path} has no option {name}")
    assert not wrong, "commands named in the docs that do not exist:\n" + "\n".join(wrong)


def test_parse_rejects_what_the_command_rejects():
    assert parse("lorascope robustness --run 1 --seeds 3").params["n_seeds"] == 3
    with pytest.raises(click.UsageError):
        parse("lorascope train --strategy nonesuch")
    with pytest.raises(click.UsageError):
        parse("lorascope robustness --seeds 3")          # --run is required
    with pytest.raises(click.UsageError):
        parse("lorascope nonesuch")


# (d) links


def slug(heading: str) -> str:
    """The anchor mkdocs (Python-Markdown's toc) gives a heading."""
    text = re.sub(r"[`*_]", "", heading).strip()
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    found = set()
    for lang, text in blocks(page.read_text(encoding="utf-8")):
        if not lang:
            found.update(slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M))
    return found


def test_relative_links_resolve():
    broken = []
    for page in PAGES:
        for lang, text in blocks(page.read_text(encoding="utf-8")):
            if lang:
                continue
            for target in LINK.findall(text):
                if re.match(r"[a-z]+:", target):
                    continue
                path, _, anchor = target.partition("#")
                dest = (page.parent / path).resolve() if path else page
                if not dest.exists():
                    broken.append(f"{rel(page)}: {target}")
                elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                    broken.append(f"{rel(page)}: {target} (no heading with that anchor)")
    assert not broken, "links that do not resolve:\n" + "\n".join(broken)


def test_slug_matches_mkdocs_headings():
    assert slug("`lorascope export`") == "lorascope-export"
    assert slug("Where a new piece goes") == "where-a-new-piece-goes"


# the set-up section and the captures


def test_readme_setup_is_what_ci_runs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    bash = [text.strip() for lang, text in blocks(readme) if lang == "bash"]
    assert "python3 -m pytest -q" in bash and "\npython3 -m pytest -q\n" in ci
    install = next(b for b in bash if b.startswith("apt-get"))
    assert "pip install torch==2.13.0 -e '.[synth,test]'" in install
    assert "torch==2.13.0 -e '.[synth,test]'" in ci


def test_capture_rewrites_only_the_inspector_captures():
    page = (DOCS / "how-to" / "inspector.md").read_text(encoding="utf-8")
    updated = capture.into_document(page, capture.captures_markdown([("Demo", "About it.", "screen")], 3))
    head, tail = page.split(capture.START)[0], page.split(capture.END)[1]
    assert updated.startswith(head + capture.START) and updated.endswith(capture.END + tail)
    assert "### Demo\n\nAbout it.\n\n```text\nscreen\n```" in updated
    assert "### Inspect, perturb-N" in page and "### Inspect, perturb-N" not in updated
    assert capture.into_document("# no markers\n", "x") is None


# the site


def test_mkdocs_builds_strict(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[test]' installs it)")
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(REPO / "mkdocs.yml"),
                          "-d", str(tmp_path / "site")], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / "site" / "reference" / "commands" / "index.html").exists()
