"""The newsroom's pure rules and records: what a feed says, what counts as news, sections,
breaking news, local time (quiet hours, digest times), keywords, retry timing, send windows.

Nothing here imports Telegram, HTTP or database libraries, reads the clock on its own or
holds readers' words (those are in ``bot``): every rule takes its inputs as arguments, so it is
tested without any of them. ``bot``, ``jobs`` and ``storage`` all build on this package;
it imports none of them.
"""
