"""Every page under ``docs/`` is reachable from ``README.md``, and every relative link of the
README and the pages points at a file (and heading) that exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from _support.docs_tools import DOCS_DIR, REPO_ROOT, doc_pages, headings, links, page_text, slug

README = REPO_ROOT / "README.md"
SOURCES = [README, *(DOCS_DIR / name for name in doc_pages())]


def _resolve(source: Path, target: str) -> tuple[Path, str]:
    path, _, anchor = target.partition("#")
    return ((source.parent / path).resolve() if path else source), anchor


def test_readme_links_every_docs_page() -> None:
    linked = {_resolve(README, target)[0] for target in links(README.read_text(encoding="utf-8"))}
    missing = [f"docs/{name}" for name in doc_pages() if (DOCS_DIR / name).resolve() not in linked]
    assert missing == [], f"README.md does not link these pages: {', '.join(missing)}"


@pytest.mark.parametrize("source", SOURCES, ids=[p.name for p in SOURCES])
def test_relative_links_resolve(source: Path) -> None:
    broken = []
    for target in links(source.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, anchor = _resolve(source, target)
        if not path.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and path.suffix == ".md":
            text = path.read_text(encoding="utf-8") if path != source else source.read_text(encoding="utf-8")
            if anchor not in {slug(h) for h in headings(text)}:
                broken.append(f"{target} (no such heading)")
    assert broken == [], f"{source.name}: broken links"


def test_the_link_reader_sees_links_and_anchors() -> None:
    text = page_text("configuration.md")
    assert "deployment.md" in links(text)
    assert "worked-example" in {slug(h) for h in headings(text)}
    assert slug("What `--dev-server` is not for") == "what---dev-server-is-not-for"
