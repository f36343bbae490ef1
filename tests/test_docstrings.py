"""The API reference stays complete and true.

Every public function and class of fastopt, fastopt.functional, fastopt.optim (with
fastopt.optim.lr_scheduler) and fastopt.init has a numpydoc docstring: a summary line, a
Parameters section naming exactly the parameters it takes (where it takes any), and an
Examples section; every example in those docstrings runs and prints what it shows; no
docstring sends the reader to a file of the source repository (the docs site and the package
are what users have); and the docs site's quick start runs.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

PUBLIC_MODULES = ("fastopt", "fastopt.functional", "fastopt.optim", "fastopt.optim.lr_scheduler", "fastopt.init")
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _public() -> Dict[str, object]:
    """Each public function and class once, under its first public name."""
    found: Dict[str, object] = {}
    ids = set()
    for modname in PUBLIC_MODULES:
        mod = importlib.import_module(modname)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and id(obj) not in ids:
                ids.add(id(obj))
                found[f"{modname}.{name}"] = obj
    return found


PUBLIC = _public()


def _sections(doc: str) -> Dict[str, List[str]]:
    """numpydoc sections: a title line underlined by dashes of its length, then its lines."""
    lines = doc.splitlines()
    out: Dict[str, List[str]] = {}
    current = None
    i = 0
    while i < len(lines):
        title = lines[i].strip()
        under = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if title and re.fullmatch(r"-+", under) and len(under) == len(title):
            current = title
            out[current] = []
            i += 2
            continue
        if current is not None:
            out[current].append(lines[i])
        i += 1
    return out


def _entries(section: List[str]) -> List[Tuple[List[str], str]]:
    """The entries of a Parameters section: the names of each unindented ``name : type`` line
    and the indented description below it."""
    entries: List[Tuple[List[str], str]] = []
    for line in section:
        m = re.match(r"^(\w+(?:, \w+)*)(?:\s*:.*)?$", line)
        if m:
            entries.append((m.group(1).split(", "), ""))
        elif entries and line.startswith(" "):
            names, text = entries[-1]
            entries[-1] = (names, (text + " " + line.strip()).strip())
    return entries


def _documented_names(section: List[str]) -> List[str]:
    return [n for names, _ in _entries(section) for n in names]


def _signature_names(obj) -> List[str]:
    return [n for n, p in inspect.signature(obj).parameters.items()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def test_the_public_api_is_found():
    # the walk above sees every family (a module that lost its __all__ would vanish silently)
    for name in ("fastopt.sigmoid", "fastopt.cross_entropy", "fastopt.functional.adamw_", "fastopt.StepResult",
                 "fastopt.get_include", "fastopt.optim.AdamW", "fastopt.optim.LBFGS",
                 "fastopt.optim.lr_scheduler.OneCycleLR", "fastopt.init.kaiming_uniform_", "fastopt.info"):
        assert name in PUBLIC, name
    assert len(PUBLIC) > 70


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_numpydoc_sections(name):
    obj = PUBLIC[name]
    doc = inspect.getdoc(obj)
    assert doc, f"{name} has no docstring"
    summary = doc.splitlines()[0]
    assert summary.strip() and not summary.startswith(("Parameters", "Examples")), summary
    sections = _sections(doc)
    params = _signature_names(obj)
    if params:
        assert "Parameters" in sections, f"{name} takes {params} but has no Parameters section"
        documented = _documented_names(sections["Parameters"])
        assert len(documented) == len(set(documented)), f"{name} documents a parameter twice: {documented}"
        assert set(documented) == set(params), (
            f"{name}: documented {sorted(documented)}, the signature has {sorted(params)}")
        bare = [names for names, text in _entries(sections["Parameters"]) if not text]
        assert not bare, f"{name}: no description for {bare}"
    assert "Examples" in sections, f"{name} has no Examples section"
    assert any(line.lstrip().startswith(">>> ") for line in sections["Examples"]), f"{name}'s Examples has no example"


def _doctests(name: str) -> List[doctest.DocTest]:
    """The examples of ``name``'s docstring (and, for a class, of its methods')."""
    obj = PUBLIC[name]
    finder = doctest.DocTestFinder(recurse=inspect.isclass(obj))
    return [t for t in finder.find(obj, name, module=sys.modules[obj.__module__], globs={}) if t.examples]


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_examples_run(name):
    tests = _doctests(name)
    assert tests, f"{name} has no example to run"
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: List[str] = []
    for t in tests:
        runner.run(t, out=report.append)
    failed, attempted = runner.summarize(verbose=False)
    assert attempted > 0
    assert failed == 0, "".join(report)


# A repository path (README.md, docs/x.md, tests/..., a .py file) is useless to a reader of the
# installed package or of the site; name the site's page or the object instead.
_REPO_PATH = re.compile(r"\bREADME\b|\b(?:docs|tests|tools|bench|cpp|examples)/|\b\w+\.py\b")


def _docstrings() -> List[Tuple[str, str]]:
    out = []
    modules = {importlib.import_module(m) for m in PUBLIC_MODULES}
    modules |= {sys.modules[obj.__module__] for obj in PUBLIC.values()}
    for mod in sorted(modules, key=lambda m: m.__name__):
        out.append((mod.__name__, mod.__doc__ or ""))
    for name, obj in PUBLIC.items():
        out.append((name, inspect.getdoc(obj) or ""))
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if inspect.isfunction(member) and not attr.startswith("_") and member.__doc__:
                    out.append((f"{name}.{attr}", member.__doc__))
    return out


def test_no_docstring_points_into_the_repository():
    bad = [(name, m.group(0)) for name, doc in _docstrings() for m in [_REPO_PATH.search(doc)] if m]
    assert not bad, bad


def test_section_parser():
    # the helpers above, on a docstring whose layout is known
    doc = ("Summary.\n\nParameters\n----------\nx, y : float\n    Text,\n    more.\nout : ndarray, optional\n\n"
           "Examples\n--------\n>>> 1\n1")
    sections = _sections(doc)
    assert list(sections) == ["Parameters", "Examples"]
    assert _entries(sections["Parameters"]) == [(["x", "y"], "Text, more."), (["out"], "")]
    assert _documented_names(sections["Parameters"]) == ["x", "y", "out"]
    assert _REPO_PATH.search("see docs/reliability.md") and _REPO_PATH.search("the README")
    assert not _REPO_PATH.search("the documentation's page \"The multi-tensor optimizer step API\"")


INDEX = Path(__file__).resolve().parents[1] / "docs" / "index.md"


def test_quick_start_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", INDEX.read_text(), flags=re.S)
    assert blocks, "docs/index.md has no Python example"
    for block in blocks:
        r = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"docs/index.md block failed:\n{block}\n{r.stderr[-3000:]}"
