"""Guest commands agentvm builds itself (C sources compiled to wasm32-wasi at setup).

They fill gaps in the pinned packages: today only `grep`, which
@agentos-software/grep@0.3.4 lacks (it ships only the egrep/fgrep shims that spawn
it). `build.build` compiles them; `build.built_commands` lists what was built for
the /bin layer. (Nothing is imported here so `python -m ...commands.build` runs
without a double-import warning.)
"""
