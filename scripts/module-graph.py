#!/usr/bin/env python3
"""Which top-level module of src/ imports which (crate:: paths, comments and test code left out).

Run from the repository root: `python3 scripts/module-graph.py` (or give the root as argument).
"""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else "."
src = os.path.join(root, "src")
graph = {}
for dirpath, _, files in os.walk(src):
    for f in files:
        if not f.endswith(".rs") or f in ("tests.rs", "testdata.rs") or f.endswith("_tests.rs"):
            continue
        rel = os.path.relpath(os.path.join(dirpath, f), src)
        top = rel.split(os.sep)[0].removesuffix(".rs")
        if top in ("lib", "main"):
            continue
        text = open(os.path.join(dirpath, f)).read()
        text = text.split("#[cfg(test)]\nmod tests")[0]
        # Comments name modules without importing them.
        text = re.sub(r"//[^\n]*", "", text)
        deps = set(re.findall(r"crate::([a-z_]+)", text))
        for group in re.findall(r"crate::\{([^;]*)\}", text, re.S):
            deps |= set(re.findall(r"(?:^|[,{]\s*)([a-z_]+)(?=::|\s*[,}]|$)", group.strip()))
        graph.setdefault(top, set()).update(d for d in deps if d != top)
for m in sorted(graph):
    print(f"{m:10} -> {' '.join(sorted(graph[m]))}")
