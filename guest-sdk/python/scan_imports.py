"""Lists what a Python task's sources import, for `host task build` (run by the build, not a task).

componentize-py snapshots the interpreter at build time, so a module first imported while a
call runs is missing. The build pre-imports every module found here.

Usage: python scan_imports.py ROOT MODULE...; prints JSON {"modules", "imports", "problems"}:
`modules` the handler modules given plus every module file under ROOT's packages they live in,
`imports` every absolute module name the sources import (anywhere, even inside a function),
`problems` syntax errors as "file:line: message".
"""

import ast
import json
import os
import sys

SKIP_DIRS = {"__pycache__", "node_modules", ".git", ".venv", "venv", "tests", "test"}


def module_files(root, modules):
    """(path, dotted name) of each given module and of the files of the packages they are in."""
    seen = {}
    for name in modules:
        parts = name.split(".")
        for candidate in (os.path.join(root, *parts) + ".py", os.path.join(root, *parts, "__init__.py")):
            if os.path.isfile(candidate):
                seen[candidate] = name
        # The top-level package of a dotted handler: every file in it.
        top = os.path.join(root, parts[0])
        if len(parts) > 1 and os.path.isfile(os.path.join(top, "__init__.py")):
            for directory, dirs, files in os.walk(top):
                dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
                for file in files:
                    if file.endswith(".py"):
                        path = os.path.join(directory, file)
                        rel = os.path.relpath(path, root)[: -len(".py")].split(os.sep)
                        if rel[-1] == "__init__":
                            rel = rel[:-1]
                        seen.setdefault(path, ".".join(rel))
    return seen


def imports_of(path, module, problems):
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
    except SyntaxError as e:
        problems.append(f"{path}:{e.lineno}: {e.msg}")
        return []
    except (OSError, UnicodeDecodeError) as e:
        problems.append(f"{path}: {e}")
        return []
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = ".".join(base)
                target = ".".join(p for p in (prefix, node.module or "") if p)
            else:
                target = node.module or ""
            if target:
                found.append(target)
                found.extend(f"{target}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def main():
    root, modules = sys.argv[1], sys.argv[2:]
    problems = []
    files = module_files(root, modules)
    imports = set()
    for path, module in files.items():
        imports.update(imports_of(path, module, problems))
    print(
        json.dumps(
            {
                "modules": sorted(set(files.values())),
                "imports": sorted(i for i in imports if i),
                "problems": problems,
            }
        )
    )


main()
