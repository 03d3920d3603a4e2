"""Build every recipe (or the named ones) in parallel, with progress:
`python -m agentvm_sidecar.software.recipes [--dest SOFTWARE_DIR] [NAME...]`.

Recipes whose cache is warm are skipped without fetching anything. The others
run on up to one worker per core, each told how many compile jobs it may run so
the total stays near the core count (the machine is shared).
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from ..paths import dest_of, software_parser
from .curl import CURL
from .debian import RecipeError
from .git import GIT
from .gnu_make import MAKE
from .gnu_patch import PATCH
from .recipe import Recipe, already_built, build_recipe, built_recipe

__all__ = ["RECIPES", "build_recipes", "main", "recipe_commands"]

RECIPES: tuple[Recipe, ...] = (MAKE, PATCH, CURL, GIT)


def recipe_commands(software: Path) -> list[tuple[Recipe, str, Path]]:
    """(recipe, command, module path) for every built recipe of today's inputs."""
    found = []
    for recipe in RECIPES:
        built = built_recipe(recipe, software)
        if built is not None:
            found += [(recipe, command, path) for command, path in sorted(built.items())]
    return found


def build_recipes(software: Path, recipes: tuple[Recipe, ...] = RECIPES) -> list[str]:
    """Build what is not built yet; returns the names built now.

    Raises: RecipeError naming every recipe that failed (the others are kept).
    """
    todo = [r for r in recipes if not already_built(r, software)]
    if not todo:
        return []
    cores = os.cpu_count() or 1
    workers = max(1, min(len(todo), cores))
    jobs = max(1, cores // workers)
    built: list[str] = []
    failures: list[str] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(build_recipe, recipe, software, jobs=jobs): recipe for recipe in todo}
        for future in as_completed(futures):
            recipe = futures[future]
            try:
                if future.result():
                    built.append(recipe.name)
            except RecipeError as exc:
                failures.append(str(exc))
    if failures:
        raise RecipeError("\n\n".join(failures))
    return built


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the process exit status."""
    parser = software_parser(__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"recipes to build (default: all of {[r.name for r in RECIPES]})")
    args = parser.parse_args(argv)
    software = dest_of(args)
    by_name = {r.name: r for r in RECIPES}
    unknown = [n for n in args.names if n not in by_name]
    if unknown:
        parser.error(f"unknown recipes {unknown}")
    chosen = tuple(by_name[n] for n in args.names) if args.names else RECIPES
    try:
        built = build_recipes(software, chosen)
    except RecipeError as exc:
        print(f"recipes failed:\n{exc}", file=sys.stderr)
        return 1
    print(f"{len(chosen)} recipes ready ({', '.join(built) or 'none'} built now)", file=sys.stderr)
    return 0
