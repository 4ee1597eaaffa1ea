"""Story identity (jobs/story_identity.py): the pure rule, on small documents."""

from __future__ import annotations

from jobs.story_identity import StoryKey, hashed_identity, story_keys

PAGE = "https://outlet.example/live/2026/03/01.html"


def keys(*items: tuple[str | None, str | None]) -> list[StoryKey | None]:
    return story_keys(list(items))


# --- the rule -------------------------------------------------------------------------------


def test_distinct_guids_on_one_page_are_distinct_stories_by_their_fragments() -> None:
    found = keys((f"{PAGE}#a1", f"{PAGE}#a1"), (f"{PAGE}#a2", f"{PAGE}#a2"), ("p3", PAGE))
    assert found == [
        StoryKey(f"guid:{PAGE}#a1", f"{PAGE}#a1", f"{PAGE}#a1", link_is_key=True),
        StoryKey(f"guid:{PAGE}#a2", f"{PAGE}#a2", f"{PAGE}#a2", link_is_key=True),
        StoryKey("guid:p3", "p3", PAGE, link_is_key=True),
    ]


def test_a_fragment_nothing_else_shares_is_dropped() -> None:
    # A tracker (NDTV's #publisher=newsstand) or an in-page anchor: not part of the story.
    [key] = keys(("g1", "https://outlet.example/a#publisher=newsstand"))
    assert key == StoryKey("guid:g1", "g1", "https://outlet.example/a", link_is_key=True)


def test_without_guids_the_fragment_tells_posts_of_one_page_apart() -> None:
    found = keys((None, f"{PAGE}#a1"), (None, f"{PAGE}#a2"), (None, "https://outlet.example/b#x"))
    assert [k.identity if k else None for k in found] == [
        f"link:{PAGE}#a1",
        f"link:{PAGE}#a2",
        "link:https://outlet.example/b",
    ]
    assert all(k is not None and k.link_is_key for k in found)


def test_a_guid_on_several_pages_is_not_real() -> None:
    # A broken feed gives every item one guid: the links tell its stories apart.
    found = keys(("same", "https://outlet.example/a"), ("same", "https://outlet.example/b"))
    assert [(k.identity, k.guid) if k else None for k in found] == [
        ("link:https://outlet.example/a", None),
        ("link:https://outlet.example/b", None),
    ]


def test_a_guid_repeated_on_one_page_is_one_item_listed_twice() -> None:
    found = keys(("g", "https://outlet.example/c"), ("g", "https://outlet.example/c#again"))
    assert found == [
        StoryKey("guid:g", "g", "https://outlet.example/c", link_is_key=True),
        None,
    ]


def test_guidless_items_with_one_link_are_one_item() -> None:
    found = keys((None, "https://outlet.example/c"), (None, "https://outlet.example/c"))
    assert found[1] is None
    assert found[0] == StoryKey(
        "link:https://outlet.example/c", None, "https://outlet.example/c", link_is_key=True
    )


def test_distinct_guids_sharing_a_link_are_stories_the_link_does_not_key() -> None:
    # A live page without anchors, or every item linking to the homepage.
    found = keys(("p1", PAGE), ("p2", PAGE), (None, PAGE))
    assert found == [
        StoryKey("guid:p1", "p1", PAGE, link_is_key=False),
        StoryKey("guid:p2", "p2", PAGE, link_is_key=False),
        StoryKey(f"link:{PAGE}", None, PAGE, link_is_key=False),
    ]


def test_a_permalink_guid_is_a_guid_and_no_guid_nor_link_leaves_a_hash() -> None:
    found = keys(("https://outlet.example/a", "https://outlet.example/a"), (None, None))
    assert found == [
        StoryKey(
            "guid:https://outlet.example/a",
            "https://outlet.example/a",
            "https://outlet.example/a",
            link_is_key=True,
        ),
        StoryKey(None, None, None, link_is_key=False),
    ]
    assert hashed_identity("Title only") == hashed_identity("Title only")
    assert hashed_identity("Title only") != hashed_identity("Another title")
