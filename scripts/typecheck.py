#!/usr/bin/env python3
"""mypy with the exception list that only shrinks (`make check`, and so `make test`).

pyproject.toml's [tool.mypy] names the code to check and, in one [[tool.mypy.overrides]] block
with `ignore_errors = true`, the modules that did not type-check when mypy was introduced.
Plain `mypy` honours that list. This script runs mypy once with the list lifted and fails when
- a module outside the list has an error (printed as mypy prints it), or
- a listed module has none left: it must be removed from the list, so the list only shrinks.
The errors of listed modules are counted, not printed (`--show-excepted` prints them).

Usage: scripts/typecheck.py [--show-excepted] [mypy arguments...]
"""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = REPO / "pyproject.toml"
LIFTED_CONFIG = REPO / ".mypy_cache" / "exceptions-lifted.toml"
ERROR_LINE = re.compile(r"^(?P<path>[^:\s][^:]*\.py):\d+(?::\d+)?: (?P<kind>error|note): ")


def mypy_config(pyproject: Path = PYPROJECT) -> dict:
    return tomllib.loads(pyproject.read_text())["tool"]["mypy"]


def exception_list(pyproject: Path = PYPROJECT) -> list[str]:
    """The modules of the one override block with `ignore_errors = true`."""
    blocks = [o for o in mypy_config(pyproject).get("overrides", []) if o.get("ignore_errors")]
    if len(blocks) != 1:
        raise SystemExit(f"{pyproject}: expected one [[tool.mypy.overrides]] block with "
                         f"ignore_errors = true, found {len(blocks)}")
    modules = blocks[0]["module"]
    return [modules] if isinstance(modules, str) else list(modules)


def base_dirs(pyproject: Path = PYPROJECT) -> list[Path]:
    """Where mypy roots module names: the repository for packages; the folder itself for a
    script folder without __init__.py (bench/), the parent for a single file."""
    bases = [REPO]
    for entry in mypy_config(pyproject)["files"]:
        path = REPO / entry
        if path.is_file():
            base = path.parent
        elif path.is_dir() and not (path / "__init__.py").exists():
            base = path
        else:
            continue
        if base not in bases:
            bases.append(base)
    return bases


def module_file(module: str, pyproject: Path = PYPROJECT) -> Path | None:
    """The source file of a module name as mypy names it, or None when there is none."""
    parts = module.split(".")
    for base in base_dirs(pyproject):
        for candidate in (base.joinpath(*parts).with_suffix(".py"),
                          base.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return candidate
    return None


def lifted_config_text(pyproject: Path = PYPROJECT) -> str:
    text = pyproject.read_text()
    lifted, count = re.subn(r"(?m)^ignore_errors = true$", "ignore_errors = false", text)
    if count != 1:
        raise SystemExit(f"{pyproject}: expected one line `ignore_errors = true`, found {count}")
    return lifted


def main(argv: list[str]) -> int:
    show_excepted = "--show-excepted" in argv
    mypy_args = [a for a in argv if a != "--show-excepted"]
    listed = exception_list()
    files: dict[str, str] = {}
    for module in listed:
        path = module_file(module)
        if path is None:
            print(f"pyproject.toml: {module} is in the mypy exception list but does not exist; "
                  "remove it")
            return 1
        files[path.relative_to(REPO).as_posix()] = module

    LIFTED_CONFIG.parent.mkdir(exist_ok=True)
    LIFTED_CONFIG.write_text(lifted_config_text())
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(LIFTED_CONFIG), *mypy_args],
        cwd=REPO, capture_output=True, text=True)
    if result.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        return result.returncode

    errors_in: dict[str, int] = dict.fromkeys(listed, 0)
    failures = 0
    for line in result.stdout.splitlines():
        match = ERROR_LINE.match(line)
        if match is None:
            continue  # mypy's own summary line; ours follows
        excepted_module = files.get(match["path"])
        if excepted_module is None:
            print(line)
            failures += match["kind"] == "error"
        else:
            errors_in[excepted_module] += match["kind"] == "error"
            if show_excepted:
                print(line)
    sys.stderr.write(result.stderr)

    clean = [m for m, count in errors_in.items() if count == 0]
    for module in clean:
        print(f"{module} type-checks now: remove it from the mypy exception list in "
              "pyproject.toml (the list only shrinks)")
    excepted = sum(errors_in.values())
    print(f"mypy: {failures} error(s) outside the exception list; {len(listed)} listed "
          f"module(s) still have {excepted} error(s)")
    return 1 if failures or clean else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
