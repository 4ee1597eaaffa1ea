"""Maintaining the translation catalogues: extract the texts, update each language's ``.po``,
compile them, and check a translation keeps its placeholders, tags and plural forms.

    python -m bot.catalogues extract   # bot/**.py → bot/locale/newsbot.pot
    python -m bot.catalogues update    # newsbot.pot → bot/locale/<lang>/LC_MESSAGES/newsbot.po
    python -m bot.catalogues compile   # each .po → .mo (pip install does this too)
    python -m bot.catalogues check     # what the CI test checks, as a list of problems

The same as ``pybabel extract -F babel.cfg -c Translators: …``; TRANSLATING.md says more.
"""

from __future__ import annotations

import gettext
import re
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po, write_po

from bot.i18n import (
    BABEL_CODES,
    DOMAIN,
    LOCALE_DIR,
    LOCALES,
    SOURCE_LOCALE,
    compile_catalogue,
    po_path,
)

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
TRANSLATED = tuple(code for code in LOCALES if code != SOURCE_LOCALE)
# Catalogues carry a fixed date, so regenerating them changes only what the texts changed.
_FIXED_DATE = datetime(2026, 1, 1, tzinfo=UTC)
_PLACEHOLDER = re.compile(r"(?<!\{)\{([^\W\d]\w*)\}(?!\})")
_TAG = re.compile(r"</?([a-zA-Z]+)[^>]*>")


def extract() -> Catalog:
    """Every marked text in ``bot/``, with translator comments and source locations."""
    catalog = Catalog(
        project="newsbot",
        version="1",
        copyright_holder="newsbot contributors",
        msgid_bugs_address="see TRANSLATING.md",
        charset="utf-8",
    )
    methods = [("**.py", "python")]
    found = extract_from_dir(
        ROOT / "bot",
        method_map=methods,
        keywords=DEFAULT_KEYWORDS,
        comment_tags=("Translators:",),
        strip_comment_tags=True,
    )
    for filename, lineno, message, comments, context in found:
        location = (f"bot/{Path(filename).as_posix()}", lineno)
        catalog.add(message, None, [location], auto_comments=comments, context=context, flags=())
    return catalog


def _write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        # No line wrapping and no dates: diffs show what a change did to the texts only.
        write_po(out, catalog, width=0, omit_header=False, include_previous=True)


def write_template() -> Catalog:
    catalog = extract()
    catalog.creation_date = catalog.revision_date = _FIXED_DATE
    _write(catalog, TEMPLATE)
    return catalog


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def update_all() -> None:
    """Merge the template into each language's catalogue (new texts empty, old ones kept as
    obsolete so a translator can reuse them)."""
    template = read(TEMPLATE)
    for code in TRANSLATED:
        path = po_path(code)
        if path.exists():
            catalog = read(path, BABEL_CODES.get(code, code))
        else:
            catalog = Catalog(locale=BABEL_CODES.get(code, code), project="newsbot")
        catalog.update(template, update_header_comment=False)
        catalog.locale = Locale.parse(BABEL_CODES.get(code, code))
        catalog.creation_date = catalog.revision_date = _FIXED_DATE
        _write(catalog, path)


def compile_all() -> None:
    for code in TRANSLATED:
        path = po_path(code)
        path.with_suffix(".mo").write_bytes(compile_catalogue(path))


# --- checks -------------------------------------------------------------------------------


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def tags(text: str) -> Counter[str]:
    return Counter(m.lower() for m in _TAG.findall(text))


def forms(message: Message) -> tuple[list[str], list[str]]:
    ids = list(message.id) if isinstance(message.id, tuple | list) else [message.id]
    if isinstance(message.string, tuple | list):
        return ids, list(message.string)
    return ids, [message.string or ""]


def _plural_rule_problems(locale: str, declared: str, cldr: str) -> Iterator[str]:
    """The header's rule must pick the same form as CLDR's for every count: a translator's
    tool (Weblate, Poedit) orders the forms as CLDR does, so a rule that orders them otherwise
    shows each translation under the wrong count."""
    try:
        ours = gettext.c2py(declared)
    except (ValueError, SyntaxError) as exc:
        yield f"{locale}: Plural-Forms rule {declared!r} does not parse: {exc}"
        return
    theirs = gettext.c2py(cldr)
    for n in range(1000):
        if ours(n) != theirs(n):
            yield (
                f"{locale}: Plural-Forms picks form {ours(n)} for {n}, CLDR picks "
                f"{theirs(n)} (CLDR's rule: {cldr})"
            )
            return


def problems(
    locale: str, template: Catalog | None = None, path: Path | None = None
) -> Iterator[str]:
    """Everything wrong with one language's catalogue, in words a translator understands."""
    template = template if template is not None else read(TEMPLATE)
    path = path or po_path(locale)
    if not path.exists():
        yield f"{locale}: {path} is missing"
        return
    catalog = read(path)
    cldr = get_plural(BABEL_CODES.get(locale, locale))
    expected = cldr.num_plurals
    if catalog.num_plurals != expected:
        yield f"{locale}: Plural-Forms says {catalog.num_plurals} forms, CLDR says {expected}"
    else:
        yield from _plural_rule_problems(locale, catalog.plural_expr, cldr.plural_expr)
    for wanted in template:
        if not wanted.id:
            continue
        found = catalog.get(wanted.id, wanted.context)
        label = f"{locale}: {wanted.id if isinstance(wanted.id, str) else wanted.id[0]!r}"
        if found is None:
            yield f"{label} is not in the catalogue (run: python -m bot.catalogues update)"
            continue
        ids, strings = forms(found)
        if found.fuzzy:
            yield f"{label} is marked fuzzy (check it, then remove the fuzzy flag)"
        if not all(s.strip() for s in strings):
            yield f"{label} is not translated"
            continue
        if len(ids) > 1 and len(strings) != expected:
            yield f"{label} has {len(strings)} plural forms, the language has {expected}"
        allowed = set().union(*(placeholders(i) for i in ids))
        for form in strings:
            got = placeholders(form)
            if got - allowed:
                yield f"{label} uses unknown placeholders {sorted(got - allowed)}"
            # A singular-like form may say "one story" instead of "{num} story"; every
            # other placeholder must be there.
            missing = allowed - got - ({"num"} if len(ids) > 1 else set())
            if missing:
                yield f"{label} drops placeholders {sorted(missing)}"
            if tags(form) != tags(ids[0]):
                yield f"{label} changes the HTML tags ({dict(tags(form))} vs {dict(tags(ids[0]))})"
            try:
                form.format(**dict.fromkeys(allowed, "x"))
            except (ValueError, IndexError, KeyError) as exc:
                yield f"{label} does not format: {exc}"


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "extract":
        catalog = write_template()
        print(f"{TEMPLATE.relative_to(ROOT)}: {len(catalog)} texts")
    elif command == "update":
        update_all()
    elif command == "compile":
        compile_all()
    elif command == "check":
        found = [p for code in TRANSLATED for p in problems(code)]
        print("\n".join(found) or "every catalogue is complete")
        return 1 if found else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
