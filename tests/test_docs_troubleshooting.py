"""docs/troubleshooting.md quotes the packages' error and warning messages as they are.

Every message on the page is a list item of the form

    - Error: `fixed text <placeholder> more fixed text`
    - Warning: `...`

(double backticks when the message itself contains a backtick). Each message is split at
its ``<placeholder>`` s, and every remaining fragment of at least ``MIN_FRAGMENT``
characters must occur in a string literal of the source code under ``packages/*/src``
(f-strings and implicitly concatenated literals are joined, ``{{``/``}}`` unescaped, the
replacement fields removed; docstrings are not counted). A reworded message in the code
then fails this test until the page is updated. Messages of other libraries (hydra,
OmegaConf, Lightning, PyTorch) are written on the page with other labels and not checked.

Pure text: nothing is imported from the packages.
"""

import ast
import re
from functools import lru_cache
from pathlib import Path
from typing import List, Tuple

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "troubleshooting.md"
MIN_FRAGMENT = 12
# fewer messages than this means the page lost entries, or the pattern below stopped matching them
MIN_MESSAGES = 100

LABELLED = re.compile(r"^\s*(?:[-*]\s+)?(Error|Warning):")
MESSAGE = re.compile(r"^\s*(?:[-*]\s+)?(?P<label>Error|Warning): (?P<ticks>`+) ?(?P<text>.+?) ?(?P=ticks)\s*$")
PLACEHOLDER = re.compile(r"<[A-Za-z][A-Za-z0-9_ .-]*>")
FIELD = "\x00"  # stands for a replacement field of an f-string


def page_messages() -> List[Tuple[int, str, str]]:
    """``(line number, label, message)`` of every labelled message of the page."""
    out = []
    for number, line in enumerate(PAGE.read_text(encoding="utf-8").splitlines(), start=1):
        if not LABELLED.match(line):
            continue
        match = MESSAGE.match(line)
        assert match, f"{PAGE.name}:{number}: a labelled line must be '- Error: `message`', got {line!r}"
        out.append((number, match["label"], match["text"]))
    return out


def fragments(message: str) -> List[str]:
    """The fixed parts of ``message`` (split at placeholders) that are long enough to check."""
    return [part for part in PLACEHOLDER.split(message) if len(part) >= MIN_FRAGMENT]


def _string_templates(source: str) -> List[str]:
    """The string literals of a module (not docstrings), f-string fields as ``FIELD``."""
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            out.append(
                "".join(
                    part.value if isinstance(part, ast.Constant) and isinstance(part.value, str) else FIELD
                    for part in node.values
                )
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            out.append(node.value)
    return out


@lru_cache(maxsize=1)
def source_strings() -> str:
    """Every string literal of packages/*/src, one per line."""
    files = sorted(ROOT.glob("packages/*/src/**/*.py"))
    assert files, "no source files found under packages/*/src"
    templates = []
    for path in files:
        templates += _string_templates(path.read_text(encoding="utf-8"))
    return "\n".join(templates)


def test_page_has_the_messages():
    messages = page_messages()
    assert len(messages) >= MIN_MESSAGES, f"only {len(messages)} labelled messages found on {PAGE.name}"
    unchecked = [(number, text) for number, _, text in messages if not fragments(text)]
    assert not unchecked, (
        f"messages without a fixed part of {MIN_FRAGMENT}+ characters cannot be checked; quote more of them: {unchecked}"
    )


def test_messages_occur_in_the_source():
    corpus = source_strings()
    missing = [
        f"{PAGE.name}:{number}: {fragment!r} (from {label}: {text!r})"
        for number, label, text in page_messages()
        for fragment in fragments(text)
        if fragment not in corpus
    ]
    assert not missing, "fragments of documented messages not found in packages/*/src:\n" + "\n".join(missing)


def test_fragment_splitting():
    assert fragments("dataset statistic <name> was not computed; available statistics: <names>.") == [
        "dataset statistic ",
        " was not computed; available statistics: ",
    ]
    templates = _string_templates('x = "a"\nraise ValueError(f"{n!r} has " f"{{k: v}} {m:.2e} done")\n')
    assert f"{FIELD} has {{k: v}} {FIELD} done" in templates
