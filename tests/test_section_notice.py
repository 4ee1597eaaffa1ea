"""The notice about sections no longer offered speaks to a group as "this chat"."""

from __future__ import annotations

from bot.section_notice import RetiredSectionsNotice
from bot.sections import SectionCatalogue
from storage.retired_sections import RetiredSubscriptions

NOTICE = RetiredSectionsNotice(SectionCatalogue(["kurdistan"]), "en")


def retired(chat_id: int) -> RetiredSubscriptions:
    return RetiredSubscriptions(
        chat_id=chat_id,
        thread_id=0,
        locale="en",
        retired=(("politics", "Politics"),),
        remaining=frozenset({"kurdistan"}),
    )


def test_a_reader_hears_what_they_receive_a_group_what_the_chat_receives() -> None:
    assert NOTICE(retired(1234)).endswith("You receive new stories from: <b>Kurdistan</b>.")
    # Telegram's groups and channels have negative ids.
    assert NOTICE(retired(-1001234)).endswith(
        "This chat receives new stories from: <b>Kurdistan</b>."
    )
