#!/usr/bin/python3
"""Fails when the .c files under src/ call each other in a cycle.

A file calls another when its code refers to a symbol the other's object
defines: a call, a use of its data, a function's address passed on. A
reference from a table in data (routes.c's handlers, provider.c's
adapters) is left out: such a table registers functions that only its own
file's dispatch calls back, which is the way out of a cycle, not one.
Symbols no src/ object defines (libc, libpq, json-c, sanitizers) are
ignored. A strongly
connected component of more than one file is a cycle: the files cannot be
understood or changed one at a time. Every such component is listed with
the symbols that close it, and the exit status is 1.

The objects are those of a build: the build directory is AIGW_BUILDDIR (as
make check exports it) or --build; the sources are found under AIGW_SRCDIR
or --src. A source without an object is an error (exit 2): the graph would
be incomplete.
"""
import argparse
import os
import subprocess
import sys

UNDEFINED = {"U", "w", "v"}


def objects(srcdir, builddir):
    """{source path relative to srcdir: its object file in builddir}."""
    found, missing = {}, []
    for root, _dirs, files in os.walk(os.path.join(srcdir, "src")):
        for name in sorted(files):
            if not name.endswith(".c"):
                continue
            rel = os.path.relpath(os.path.join(root, name), srcdir)
            objdir = os.path.join(builddir, os.path.dirname(rel))
            stem = name[:-2]
            # Automake prefixes an object with its target when the target
            # has flags of its own (libaigw_la-x.o).
            candidates = [os.path.join(objdir, stem + ".o")]
            if os.path.isdir(objdir):
                candidates += [os.path.join(objdir, f) for f in sorted(os.listdir(objdir))
                               if f.endswith("-" + stem + ".o")]
            obj = next((c for c in candidates if os.path.isfile(c)), None)
            if obj is None:
                missing.append(rel)
            else:
                found[rel] = obj
    return found, missing


def run(*argv):
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def code_references(obj):
    """The symbols the relocations of obj's code sections name."""
    names, in_code = set(), False
    for line in run("readelf", "-rW", obj).splitlines():
        if line.startswith("Relocation section '"):
            section = line.split("'")[1]
            in_code = section == ".rela.text" or section.startswith(".rela.text.")
            continue
        fields = line.split()
        if in_code and len(fields) >= 5 and fields[0][:1].isdigit():
            names.add(fields[4])
    return names


def symbols(obj):
    """(defined, undefined) global symbol names of one object; undefined
    only those its code refers to."""
    defined, undefined = set(), set()
    for line in run("nm", "-g", "-P", obj).splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        (undefined if fields[1] in UNDEFINED else defined).add(fields[0])
    return defined, undefined & code_references(obj)


def graph(objs):
    """{file: {file it depends on: [symbols]}}."""
    syms = {f: symbols(o) for f, o in objs.items()}
    definers = {}
    for f, (defined, _) in syms.items():
        for s in defined:
            definers.setdefault(s, []).append(f)
    edges = {f: {} for f in objs}
    for f, (_, undefined) in syms.items():
        for s in sorted(undefined):
            for g in definers.get(s, ()):
                if g != f:
                    edges[f].setdefault(g, []).append(s)
    return edges


def components(edges):
    """Tarjan's strongly connected components, iteratively."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                result.append(sorted(comp))
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.environ.get("AIGW_SRCDIR", "."))
    ap.add_argument("--build", default=os.environ.get("AIGW_BUILDDIR", "."))
    args = ap.parse_args()

    objs, missing = objects(args.src, args.build)
    if missing:
        print("check_cycles: no object for " + ", ".join(missing) +
              f" in {args.build}: build first", file=sys.stderr)
        return 2
    edges = graph(objs)
    failed = False
    for comp in components(edges):
        if len(comp) < 2:
            continue
        print("call cycle between " + ", ".join(comp) + ":")
        for f in comp:
            for g in sorted(edges[f]):
                if g in comp:
                    print(f"  {f} -> {g} ({', '.join(edges[f][g][:3])})")
        failed = True
    if not failed:
        print(f"check_cycles: no call cycle between the {len(objs)} files of src/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
