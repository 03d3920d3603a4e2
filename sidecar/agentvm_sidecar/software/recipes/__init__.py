"""Build recipes: real programs for the VM's /bin, compiled from Debian sources
with agentvm-cc (software/cc/) and cached in `<software dir>/modules`.

``recipe.py`` is the framework (a :class:`Recipe`, its input key, the cached
build), ``debian.py`` fetches and unpacks pinned Debian source packages,
``build_all.py`` builds several in parallel with progress (setup's step, and
`python -m agentvm_sidecar.software.recipes`). Each recipe is a module of its
own (``gnu_make.py``, ``gnu_patch.py``) listed in ``RECIPES``; our patches to a
program live in `patches/<recipe name>/`.
"""

from .build_all import RECIPES, build_recipes, recipe_commands
from .debian import DebianSource, RecipeError
from .recipe import BuildContext, Recipe, build_recipe, built_recipe, recipe_key

__all__ = [
    "RECIPES",
    "BuildContext",
    "DebianSource",
    "Recipe",
    "RecipeError",
    "build_recipe",
    "build_recipes",
    "built_recipe",
    "recipe_commands",
    "recipe_key",
]
