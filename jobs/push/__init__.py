"""The parts of push fan-out, each small enough to read at once; ``jobs.fanout.Broadcaster``
wires them together.

- ``wording``: what a push looks like (``PushMessage``) and who words it (``PushWording``);
- ``settings``: the knobs (``FanoutSettings``) and the counters (``FanoutStats``);
- ``pipeline``: what flows between the parts (a ``Unit`` per message, the ``Signals``);
- ``enumeration``: which readers are due a story, as delivery rows (``Enumerator``);
- ``claiming``: due deliveries taken from storage and grouped into messages (``Claimer``);
- ``render_cache``: one render per stories × zone × language × keywords (``RenderCache``),
  and what a push looks like in a chat, a channel's too (``RenderCache.push_request``);
- ``rendered``: what it keeps and hands the senders (``Rendered``, ``Encoded``);
- ``photos``: which photo a push sends, a URL once and then its file id (``StoryPhotos``);
- ``sending``: workers sending at Telegram's pace, with their fallbacks (``Sender``);
- ``outcomes``: what each answer means: sent, retried, given up, held (``Outcomes``);
- ``recording``: outcomes written in small batches, gone and migrated chats (``Recorder``);
- ``channels``: the outlet's channels as more recipients, and their posts held while the bot
  may not post there (``ChannelTargets``, given by the bot; ``Channels``).
"""
