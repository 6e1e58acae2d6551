#!/usr/bin/env python3
"""Fails when modules of the crate import each other in a cycle (`make lint` runs it).

Every file under src/ is a module (src/a/mod.rs is `a`, src/a/b.rs is `a::b`). A file depends
on another when it names a path inside it (`use crate::a::b::X`, `super::X`, `crate::a::b::f()`),
resolved to the longest path that is a file; `mod x;` declarations are not dependencies, and
`#[cfg(test)] mod tests` blocks are left out. A module and its direct children count as one unit
(a `mod.rs` that merges its children's routers while they use its helpers is not a cycle), so
only references between separate units count. Strongly connected groups of two or more files are
printed and make the exit status 1.
"""
import re
import sys
from pathlib import Path

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "src")


def module_of(path: Path) -> tuple:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts.pop()
    return tuple(parts)


def expand(tree: str) -> list:
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"]."""
    tree = re.sub(r"\s+", "", tree)
    if "{" not in tree:
        return [tree]
    head, rest = tree.split("{", 1)
    depth, items, cur = 0, [], ""
    for ch in rest[:-1] if rest.endswith("}") else rest:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    out = []
    for item in filter(None, items):
        for sub in expand(item):
            out.append(head[:-2] if sub == "self" else head + sub)
    return out


def main() -> int:
    files = {module_of(p): p for p in SRC.rglob("*.rs") if p.name != "main.rs"}
    edges = {m: set() for m in files}
    for module, path in files.items():
        text = path.read_text()
        text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
        text = re.sub(r"//[^\n]*", "", text)
        paths = []
        for tree in re.findall(r"\buse\s+([^;]+);", text):
            paths += expand(tree)
        paths += re.findall(r"\b((?:crate|super)(?:::\w+)+)(?![\w:])", text)
        # A parent names its child modules without a prefix (`oidc::discover`, `use oidc::X`).
        declaration = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)
        undeclared = declaration.sub("", text)
        for child in declaration.findall(text):
            if re.search(r"(?<![\w:])" + child + r"::", undeclared):
                paths.append("self::" + child)
        for p in paths:
            segs = p.split("::")
            base = list(module)
            if segs[0] == "crate":
                base, segs = [], segs[1:]
            elif segs[0] == "self":
                base, segs = list(module), segs[1:]
            elif segs[0] == "super":
                # `super` in a/b.rs (or a/b/mod.rs) is `a`; each further `super` goes one up.
                base = list(module[:-1])
                segs = segs[1:]
                while segs and segs[0] == "super":
                    base, segs = base[:-1], segs[1:]
            else:
                continue
            full = base + [s for s in segs if s != "self"]
            target = None
            for n in range(len(full), -1, -1):
                if tuple(full[:n]) in files:
                    target = tuple(full[:n])
                    break
            related = target is not None and (target[:-1] == module or module[:-1] == target)
            if target is not None and target != module and not related:
                edges[module].add(target)
    # Tarjan's strongly connected components.
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                sccs.append(group)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    for group in sccs:
        names = sorted("::".join(m) or "crate" for m in group)
        print("import cycle among:", ", ".join(names))
        members = set(group)
        for m in sorted(group):
            for t in sorted(edges[m] & members):
                print(f"  {'::'.join(m)} -> {'::'.join(t)}")
    print(f"{len(files)} modules, {sum(len(e) for e in edges.values())} dependencies, {len(sccs)} cycles")
    return 1 if sccs else 0


if __name__ == "__main__":
    sys.exit(main())
