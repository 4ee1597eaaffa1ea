"""One normalisation for stored text and for readers' queries, on every database engine.

Search must find what a reader means, whatever keyboard they typed on: case, Latin
diacritics (Hewlêr/hewler, Kürt/kurt), Turkish dotted and dotless i, Arabic-script letter
variants (Arabic yeh/kaf versus the Persian and Kurdish forms), tatweel, harakat, the
zero-width non-joiner and Eastern Arabic digits. Doing it in Python means SQLite FTS5 and
PostgreSQL full-text search index exactly the same words.
"""

from __future__ import annotations

import re
import unicodedata

_LETTER_MAP = str.maketrans(
    {
        "ي": "ی",  # Arabic yeh → Farsi/Kurdish yeh
        "ى": "ی",  # alef maksura
        "ك": "ک",  # Arabic kaf → keheh
        "ۀ": "ه",
        "ة": "ه",  # teh marbuta reads as heh
        "ە": "ه",  # Kurdish ae (U+06D5) is typed as heh on Arabic keyboards
        "ھ": "ه",  # heh doachashmee
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ؤ": "و",
        "ئ": "ی",
        "ـ": None,  # tatweel only stretches a word
        "\u200c": None,  # zero-width non-joiner: spelling aid, not a word break
        "\u200d": None,
        # Sorani letters an Arabic keyboard cannot type: match their nearest Arabic letter.
        "ێ": "ی",
        "ۆ": "و",
        "ڕ": "ر",
        "ڵ": "ل",
        "ı": "i",  # Turkish dotless i
        "ß": "ss",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "æ": "ae",
        "œ": "oe",
    }
)
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_WORD = re.compile(r"\w+", re.UNICODE)


def normalize(text: str) -> str:
    """Text folded for matching: lower case, no diacritics, unified Arabic-script letters."""
    text = text.translate(_DIGITS).casefold().translate(_LETTER_MAP)
    decomposed = unicodedata.normalize("NFKD", text)
    # Dropping combining marks removes Latin accents and Arabic harakat alike.
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped).translate(_LETTER_MAP)


def search_document(*parts: str) -> str:
    """What the full-text index holds for a story: its normalised words, space-separated."""
    return " ".join(_WORD.findall(normalize(" ".join(parts))))


def query_terms(query: str, limit: int = 8) -> list[str]:
    """A reader's query as normalised words; punctuation and operators never survive."""
    return _WORD.findall(normalize(query))[:limit]
