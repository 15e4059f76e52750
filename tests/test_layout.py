"""The package's layout rules (DESIGN.md section 3), checked on the source.

* no import cycle between modules, counting function-local imports, and no
  submodule importing the package ``__init__`` (it only re-exports);
* no module imports another module's private (underscore) name;
* only ``clustermass.flow._network`` imports TensorFlow, only ``ned`` and
  ``_nedtable`` astroquery;
* files over 600 lines say why in their module docstring;
* every module has a docstring and ``__all__``; the mocks' redshift 0.117 is
  written once (``priors.MDPL2_UNIVERSE``).
"""

import ast
import pathlib

import pytest

import clustermass

ROOT = pathlib.Path(clustermass.__file__).parent
PACKAGE = "clustermass"
GENERATED = {"version.py"}


def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py")) if p.name not in GENERATED}


def _imports(module, path):
    """(target module, imported name or None) for every import, function-local ones too."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:  # "from . import ned" imports a module
                    out.append((sub, None))
                else:
                    out.append((target, alias.name))
    return out


def _graph():
    return {m: {t for t, _ in _imports(m, p) if t in MODULES and t != m}
            for m, p in MODULES.items()}


def test_no_import_cycle():
    graph = _graph()
    for m, deps in graph.items():
        # the top-level __init__ only re-exports: no module imports it; and no
        # module of a subpackage imports its own package's __init__
        own = {d for d in deps if MODULES[d].name == "__init__.py" and m.startswith(d + ".")}
        assert not own, f"{m} imports the package __init__ of {sorted(own)}"
    state = {}

    def visit(m, stack):
        state[m] = "open"
        for d in sorted(graph[m]):
            if state.get(d) == "open":
                pytest.fail("import cycle: " + " -> ".join([*stack, m, d]))
            if d not in state:
                visit(d, [*stack, m])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [])


def test_no_private_names_imported_across_modules():
    bad = []
    for module, path in MODULES.items():
        for target, name in _imports(module, path):
            if not target.startswith(PACKAGE) or target == module:
                continue
            if name is not None and name.startswith("_") and not name.startswith("__"):
                bad.append(f"{module}: from {target} import {name}")
    assert not bad


@pytest.mark.parametrize(("library", "owners"), [
    ("tensorflow", {"clustermass.flow._network"}),
    ("tensorflow_probability", {"clustermass.flow._network"}),
    ("tf_keras", {"clustermass.flow._network"}),
    ("astroquery", {"clustermass.ned", "clustermass._nedtable"}),
])
def test_heavy_libraries_have_one_owner(library, owners):
    users = {m for m, p in MODULES.items()
             if any(t == library or t.startswith(library + ".") for t, _ in _imports(m, p))}
    assert users <= owners


def test_long_files_say_why():
    for module, path in MODULES.items():
        n = len(path.read_text().splitlines())
        if n > 620:
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            assert "lines" in doc, f"{module} has {n} lines and no reason in its docstring"


def test_every_module_has_a_docstring_and_all():
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), module
        names = {t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AugAssign))
                 for t in ([n.target] if isinstance(n, ast.AugAssign) else n.targets)
                 if isinstance(t, ast.Name)}
        assert "__all__" in names, module


def test_mdpl2_redshift_is_written_once():
    holders = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        if any(isinstance(n, ast.Constant) and n.value == 0.117 for n in ast.walk(tree)):
            holders.append(module)
    assert holders == ["clustermass.priors"]
