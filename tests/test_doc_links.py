"""Every relative link in README.md, the pages in docs/ and the model card points at something: a
file or folder of the repository and, for a `#anchor` into a markdown file, one of its headings
(named as GitHub names them)."""

import os
import re
import sys

import pytest

from paths import ROOT

PAGES = [
    "README.md",
    os.path.join("models", "camvid", "README.md"),
    *sorted(
        os.path.join("docs", name)
        for name in os.listdir(os.path.join(ROOT, "docs"))
        if name.endswith(".md")
    ),
]
# [text](target) and ![alt](target), the target up to a space (a title may follow) or ")"
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _unfenced(text: str) -> str:
    """`text` without its fenced code blocks."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def _prose(text: str) -> str:
    """`text` without code, fenced or inline, where brackets are not links."""
    return re.sub(r"`[^`\n]*`", "", _unfenced(text))


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives a markdown file's headings: lower case, punctuation dropped,
    spaces to hyphens, a repeated one numbered -1, -2, ..."""
    found, seen = set(), {}
    for line in _unfenced(text).splitlines():
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(page: str) -> list[str]:
    with open(os.path.join(ROOT, page)) as f:
        return [
            target
            for target in LINK.findall(_prose(f.read()))
            if not re.match(r"[a-z][a-z0-9+.-]*:", target)
        ]  # http:, mailto:, ...


def test_every_page_is_checked_and_has_links():
    assert {"README.md", os.path.join("docs", "index.md")} <= set(PAGES)
    assert all(links(page) for page in ("README.md", os.path.join("docs", "index.md")))


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_point_at_something(page):
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        resolved = (
            os.path.normpath(os.path.join(ROOT, os.path.dirname(page), path))
            if path
            else os.path.join(ROOT, page)
        )
        if not os.path.exists(resolved):
            broken.append(f"{target}: no {os.path.relpath(resolved, ROOT)}")
        elif not os.path.realpath(resolved).startswith(os.path.realpath(ROOT) + os.sep):
            broken.append(f"{target}: outside the repository")
        elif anchor and resolved.endswith(".md"):
            with open(resolved) as f:
                if anchor not in anchors(f.read()):
                    broken.append(
                        f"{target}: no heading #{anchor} in {os.path.relpath(resolved, ROOT)}"
                    )
    assert not broken, f"{page}: " + "; ".join(broken)


def test_anchors_are_named_as_github_names_them():
    text = (
        "# Limits and what --overwrite replaces\n## What differs from the paper, and why\n"
        "### Why `--preset camvid` is what it is\n## Notes\n## Notes\n"
        "```\n# not a heading\n```"
    )
    assert anchors(text) == {
        "limits-and-what---overwrite-replaces",
        "what-differs-from-the-paper-and-why",
        "why---preset-camvid-is-what-it-is",
        "notes",
        "notes-1",
    }


def test_a_broken_link_is_found(tmp_path, monkeypatch):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text(
        "# A\n[b](b.md) [a](#a) [gone](#gone) [x](https://example.com/x) `[c](c.md)`\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", str(tmp_path))
    with pytest.raises(AssertionError) as error:
        test_relative_links_point_at_something(os.path.join("docs", "a.md"))
    message = str(error.value)
    assert "b.md: no docs/b.md" in message and "#gone: no heading #gone" in message
    assert "#a:" not in message and "example.com" not in message and "c.md" not in message


# A command of the pages that runs a module or a script of the repository.
MODULE_COMMAND = re.compile(r"python -m ((?:fast_scnn_tf|benchmarks|experiments)(?:\.\w+)*)")
SCRIPT_COMMAND = re.compile(r"python ((?:[\w.-]+/)*[\w.-]+\.py)\b")


@pytest.mark.parametrize("page", PAGES)
def test_every_command_on_the_page_names_a_module_or_script_that_exists(page):
    with open(os.path.join(ROOT, page)) as f:
        text = f.read()
    for module in MODULE_COMMAND.findall(text):
        path = os.path.join(ROOT, *module.split("."))
        assert os.path.isfile(path + ".py") or os.path.isfile(os.path.join(path, "__main__.py")), (
            f"{page}: python -m {module}"
        )
    for script in SCRIPT_COMMAND.findall(text):
        assert os.path.isfile(os.path.join(ROOT, script)), f"{page}: python {script}"
