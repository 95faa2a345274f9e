"""Guard rails: the static checks `make test` runs, and the rule that ml/ never needs Django.

- `make test` runs `make check` (ruff, then scripts/typecheck.py: mypy) before any test.
- The mypy exception list in pyproject.toml only shrinks: it is sorted, names modules that
  exist, and holds no module that was not on it when mypy came in. (scripts/typecheck.py,
  in `make check`, fails when a listed module type-checks: mypy is not run here.)
- Every module under ml/, found by walking the folder, imports in a fresh interpreter without
  loading Django or our web layer, and no ml/ source imports Django, DRF or Celery, not even
  inside a function.
"""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

from .test_import_graph import module_imports, our_modules

REPO = Path(__file__).resolve().parent.parent

# The exception list as it was when mypy came in. A module may leave the list; none may join.
EXCEPTIONS_AT_INTRODUCTION = frozenset({
    "apps.core.middleware",
    "apps.faceid.apis",
    "apps.faceid.sessions",
    "apps.identity.sources",
    "apps.single_image.apis",
    "ml.calibrate",
    "ml.evaluate",
    "ml.fit_fusion",
    "ml.pad_fusion",
    "ml.silent_face",
    "ml.simulator.identities",
})
# What ml/ must not load: Django, the libraries of the web layer, and our web layer.
DJANGO_LIBRARIES = ("django", "rest_framework", "celery")
WEB_PACKAGES = (*DJANGO_LIBRARIES, "apps", "liveness_project")


def _typecheck():
    spec = importlib.util.spec_from_file_location("typecheck", REPO / "scripts" / "typecheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _makefile_rules() -> dict[str, tuple[list[str], list[str]]]:
    """target: (prerequisites, recipe lines) of the Makefile."""
    rules: dict[str, tuple[list[str], list[str]]] = {}
    current = None
    for line in (REPO / "Makefile").read_text().splitlines():
        match = re.match(r"^([A-Za-z_][\w.-]*):(?!=)\s*(.*)$", line)
        if match:
            current = match[1]
            rules[current] = (match[2].split(), [])
        elif line.startswith("\t") and current is not None:
            rules[current][1].append(line.strip())
        elif line.strip() and not line.startswith("#"):
            current = None
    return rules


def test_make_test_runs_ruff_and_mypy_first():
    rules = _makefile_rules()
    assert "check" in rules["test"][0], "make test must depend on make check"
    recipe = rules["check"][1]
    assert any(line.endswith("ruff check .") for line in recipe), recipe
    assert any(line.endswith("scripts/typecheck.py") for line in recipe), recipe
    assert any("pytest" in line for line in rules["test"][1])


def test_mypy_exception_list_is_sorted_and_unique():
    listed = _typecheck().exception_list()
    assert listed == sorted(set(listed)), "keep the mypy exception list sorted, one entry each"


def test_mypy_exception_list_names_modules_that_exist():
    typecheck = _typecheck()
    missing = [m for m in typecheck.exception_list() if typecheck.module_file(m) is None]
    assert not missing, f"remove from the mypy exception list (no such module): {missing}"


def test_mypy_exception_list_only_shrinks():
    added = set(_typecheck().exception_list()) - EXCEPTIONS_AT_INTRODUCTION
    assert not added, (f"{sorted(added)} joined the mypy exception list; it may only shrink: "
                       "make the module type-check instead")


def test_mypy_ignores_missing_imports_only_module_by_module():
    config = _typecheck().mypy_config()
    assert "ignore_missing_imports" not in config, "per module, in [[tool.mypy.overrides]]"
    for override in config.get("overrides", []):
        if override.get("ignore_missing_imports"):
            modules = override["module"]
            for module in [modules] if isinstance(modules, str) else modules:
                top = module.split(".")[0]
                assert not (REPO / top).exists(), f"{module} is ours: it must type-check"


def ml_modules() -> list[str]:
    """Every module under ml/, from the files (no hand-kept list)."""
    return sorted(m for m in our_modules() if m == "ml" or m.startswith("ml."))


def test_ml_modules_are_found_by_walking_the_folder():
    names = ml_modules()
    assert {"ml", "ml.pipeline", "ml.simulator", "ml.simulator.head"} <= set(names)
    assert len(names) == len(set(names))


def test_ml_imports_without_django():
    """Each ml module in turn, in a fresh interpreter without DJANGO_SETTINGS_MODULE; the first
    one after which Django (or the web project) is loaded is named."""
    code = """
import importlib, json, sys
web = tuple(sys.argv[1].split(","))
for name in json.loads(sys.stdin.read()):
    importlib.import_module(name)
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in web)
    if loaded:
        print(json.dumps({"module": name, "loaded": loaded[:5]}))
        sys.exit(0)
print(json.dumps(None))
"""
    result = subprocess.run([sys.executable, "-c", code, ",".join(WEB_PACKAGES)], cwd=REPO,
                            input=json.dumps(ml_modules()), capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin"}, timeout=120)
    assert result.returncode == 0, result.stderr
    culprit = json.loads(result.stdout.strip().splitlines()[-1])
    assert culprit is None, f"importing {culprit['module']} loads {culprit['loaded']}"


def test_ml_sources_never_import_django_even_lazily():
    """Imports inside functions run only when called, so the import test above misses them.
    (tests/test_import_graph.py holds ml/ off apps/ and liveness_project/ the same way.)"""
    modules = our_modules()
    found = [f"{module}: {name}" for module in ml_modules()
             for name in sorted(module_imports(module, modules[module], modules))
             if name.split(".")[0] in DJANGO_LIBRARIES]
    assert not found, found
