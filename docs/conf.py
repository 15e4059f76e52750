# Sphinx configuration of the clustermass documentation.
import sys
import tomllib
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

try:
    from sphinx_astropy.conf.v3 import *  # noqa: F403
except ImportError:
    print("ERROR: the documentation requires the sphinx-astropy package: "
          "pip install '.[docs]'")
    sys.exit(1)

with open(Path(__file__).parents[1] / "pyproject.toml", "rb") as f:
    pyproject = tomllib.load(f)

project = pyproject["project"]["name"]
author = "The clustermass developers"
copyright = f"2026-{datetime.now(UTC).year}, {author}"  # noqa: A001
try:
    release = metadata.version(project)
except metadata.PackageNotFoundError:
    release = "0.0.dev0"
version = release.split("+")[0]

extensions += ["sphinx.ext.mathjax", "myst_nb"]  # noqa: F405

# Tutorial notebooks (docs/tutorials/*.ipynb) are stored without outputs and
# executed by myst-nb at every build, so the published pages show what the
# current code produces; an error in a cell fails the build. They need no
# network and run in a few minutes on two cores. The test suite runs the same
# notebooks through nbmake (pyproject.toml).
nb_execution_mode = "force"
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
nitpicky = True
# Types that numpydoc writes in parameter lists and that are not objects to link.
nitpick_ignore = [
    ("py:class", "optional"),
    ("py:class", "array-like"),
    ("py:class", "array-like of int"),
    ("py:class", "quantity-like"),
    ("py:class", "callable"),
    ("py:class", "path-like"),
    ("py:class", "file-like"),
    ("py:class", "tuple of float"),
    ("py:class", "dict-like"),
]
nitpick_ignore_regex = [
    # Intersphinx inventories cannot be fetched on offline machines (our CI); there,
    # references into other packages cannot be checked, ours still are.
    ("py:.*", r"(astropy|astroquery|numpy|scipy|matplotlib|warnings|h5py|tensorflow|tf_keras|"
              r"colossus|tensorflow_probability|pathlib|argparse|os|json|importlib)(\..*)?"),
    ("py:class", r".*\['.*'\]"),  # astropy-style "Quantity ['speed']"
    ("py:class", r"(ndarray|float|int|str|bool|dict|list|tuple) of .*"),
]
intersphinx_mapping.update({  # noqa: F405
    "h5py": ("https://docs.h5py.org/en/stable/", None),
    "tensorflow_probability": ("https://www.tensorflow.org/probability/api_docs/python", None),
})
intersphinx_timeout = 5


def _online(host="docs.astropy.org", port=443, timeout=3):
    import socket

    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


if not _online():
    # Offline machines (our CI) cannot fetch the inventories; without this every
    # unreachable inventory is a warning, and warnings are errors here.
    print("clustermass docs: offline, intersphinx disabled")
    intersphinx_mapping.clear()  # noqa: F405

html_theme_options = {
    "github_url": "https://github.com/clustermass/clustermass",
    "use_edit_page_button": False,
}
html_title = f"{project} v{release}"
html_static_path = ["_static"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
automodapi_toctreedirnm = "reference/api"
automodsumm_inherited_members = False
numpydoc_show_class_members = False


def _resolve_within_package(app, env, node, contnode):
    """Resolve a short reference such as `FlowConfig` to the one clustermass object it names.

    Subpackages (`clustermass.flow`, `clustermass.mocks`) document each object
    once, under the name users import it by (``clustermass.flow.FlowConfig``),
    while docstrings in their submodules refer to their neighbours by short
    names. When Sphinx finds no target for such a name, it is resolved here if
    exactly one documented clustermass object ends with it; otherwise the
    warning stands.
    """
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target or target.startswith("clustermass"):
        return None
    domain = env.get_domain("py")
    matches = [name for name in domain.objects
               if name.startswith("clustermass.") and name.endswith("." + target)]
    if len(matches) != 1:
        return None
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], matches[0],
                               node, contnode)


def setup(app):
    app.connect("missing-reference", _resolve_within_package)
