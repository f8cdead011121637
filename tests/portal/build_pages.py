"""Regenerates tests/portal/pages/ (the served fixture files and manifest.json) from sitegen/.

    python -m tests.portal.build_pages           rewrite the pages
    python -m tests.portal.build_pages --check   exit 1 if the committed pages are stale
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

from tests.portal.sitegen import build_all

PAGES_DIR = Path(__file__).parent / "pages"
# `newswatch demo` ships a well-behaved subset of these pages in the package.
DEMO_DIR = Path(__file__).resolve().parents[2] / "crawler" / "data" / "demo"
DEMO_SITES = ("/kr/", "/euckr/", "/en/", "/news/", "/robots.txt")
MANIFEST = "manifest.json"
REGENERATE = "python -m tests.portal.build_pages"


def expected_files() -> dict[str, bytes]:
    """Every file pages/ should hold, by path relative to it."""
    pages = build_all()
    files: dict[str, bytes] = {}
    for page in pages:
        if page.file is None:
            continue
        if files.get(page.file, page.body) != page.body:
            raise ValueError(f"two pages write different bytes to {page.file}")
        files[page.file] = page.body
    manifest = [page.manifest_entry() for page in pages]
    files[MANIFEST] = (json.dumps(manifest, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    return files


def expected_demo_files() -> dict[str, bytes]:
    """The demo bundle: the portal's sites without faults, private pages or state knobs."""
    pages = [page for page in build_all()
             if page.file and page.url.startswith(DEMO_SITES) and page.status == 200
             and page.behavior in (None, "changing-feed") and not page.file.endswith("-changed.xml")
             and page.url != "/kr/article/1007"]
    # Gzipped: the package stays small, and the copies are not a second set of sources.
    files = {f"{page.file}.gz": gzip.compress(page.body, mtime=0) for page in pages}
    manifest = [{"url": p.url, "file": f"{p.file}.gz", "content_type": p.content_type,
                 "status": p.status, "ignore_query": p.manifest_entry()["ignore_query"]}
                for p in pages]
    files[MANIFEST] = (json.dumps(manifest, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    return files


def _on_disk(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}


def stale_files(root: Path = PAGES_DIR, want: dict[str, bytes] | None = None) -> list[str]:
    """Paths under `root` that differ from, are missing from, or are extra to the generator."""
    want = expected_files() if want is None else want
    have = _on_disk(root) if root.exists() else {}
    problems = [f"differs: {rel}" for rel, body in want.items()
                if rel in have and have[rel].read_bytes() != body]
    problems += [f"missing: {rel}" for rel in want if rel not in have]
    problems += [f"extra: {rel}" for rel in have if rel not in want]
    return sorted(problems)


def write(root: Path = PAGES_DIR, want: dict[str, bytes] | None = None) -> int:
    want = expected_files() if want is None else want
    for rel, path in _on_disk(root).items() if root.exists() else []:
        if rel not in want:
            path.unlink()
    for rel, body in want.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != body:
            path.write_bytes(body)
    return len(want)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale pages, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale_files() + stale_files(DEMO_DIR, expected_demo_files())
        for line in problems:
            print(line)
        if problems:
            print(f"tests/portal/pages is stale: run `{REGENERATE}`", file=sys.stderr)
            return 1
        return 0
    count = write()
    print(f"wrote {count} files under {PAGES_DIR}")
    count = write(DEMO_DIR, expected_demo_files())
    print(f"wrote {count} files under {DEMO_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
