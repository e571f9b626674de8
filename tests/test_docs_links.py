"""The docs stay navigable: every relative link in README.md and docs/*.md points at a file
that exists and, with a `#fragment`, at a heading of that file (GitHub's anchors); README.md
links every document, and architecture.md lists the others."""

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, ...


def _prose(text: str) -> str:
    """The page without fenced code blocks (a `# comment` in a shell block is no heading)."""
    return _FENCE.sub("", text)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped (hyphens and
    underscores kept), spaces to hyphens (github-slugger)."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: Counter[str] = Counter()
    found = set()
    for _, title in _HEADING.findall(_prose(path.read_text(encoding="utf-8"))):
        slug = github_anchor(title)
        found.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return found


def relative_links(path: Path) -> list[str]:
    """Link targets of a page outside code, without external URLs."""
    text = _INLINE_CODE.sub("", _prose(path.read_text(encoding="utf-8")))
    return [target for target in _LINK.findall(text) if not _EXTERNAL.match(target)]


def broken_links(path: Path) -> list[str]:
    """What is wrong with the relative links of `path`, one line per broken link."""
    problems = []
    for target in relative_links(path):
        file_part, _, fragment = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            problems.append(f"{path.name}: {target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            problems.append(f"{path.name}: {target}: no heading #{fragment} in {linked.name}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    assert broken_links(page) == []


def test_readme_links_every_document() -> None:
    linked = {
        (ROOT / link.partition("#")[0]).resolve() for link in relative_links(ROOT / "README.md")
    }
    missing = [doc.name for doc in DOCS if doc.resolve() not in linked]
    assert missing == [], f"README.md does not link {missing}"


def test_architecture_lists_the_other_documents() -> None:
    page = ROOT / "docs" / "architecture.md"
    linked = {(page.parent / link.partition("#")[0]).resolve() for link in relative_links(page)}
    missing = [doc.name for doc in DOCS if doc != page and doc.resolve() not in linked]
    assert missing == [], f"docs/architecture.md does not list {missing}"


def test_checker_finds_a_missing_file_and_a_missing_anchor(tmp_path: Path) -> None:
    # given a page with one good and two broken links
    (tmp_path / "other.md").write_text("# Other page\n\n## A `code` heading: yes\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n"
        "[ok](other.md#a-code-heading-yes) [self](#page) [web](https://example.com/x.md)\n"
        "[gone](missing.md) [bad anchor](other.md#nope)\n"
        "```\n[in code](also-missing.md)\n# not a heading\n```\n"
    )
    # when / then
    assert broken_links(page) == [
        "page.md: missing.md: no such file",
        "page.md: other.md#nope: no heading #nope in other.md",
    ]
    assert "not-a-heading" not in anchors(page)


def test_duplicate_headings_get_numbered_anchors(tmp_path: Path) -> None:
    page = tmp_path / "dup.md"
    page.write_text("# Commands\n## Commands\n")
    assert anchors(page) == {"commands", "commands-1"}
