"""The parts of the comment relay; ``jobs.comment_relay.CommentRelay`` runs them.

- ``settings``: the knobs (``RelaySettings``) and the counters (``RelayStats``);
- ``pseudonyms``: the opaque id the outlet sees instead of a Telegram user id;
- ``pause``: the pause shared by every instance when the outlet refuses the endpoint or the
  secret (``RelayPause``), and lifting it (``PauseControl``);
- ``claiming``: leasing due outbox rows, or one probe while paused (``Claimer``);
- ``webhooks``: one row as a webhook, POSTed through ``jobs.clients.outlet`` and read by
  ``news.outlet_answers`` (``WebhookSender``);
- ``recording``: writing what the answer means, then telling (``Recorder``);
- ``telling``: the bot side, guarded: readers and admins told, late verdicts swept (``Teller``).
"""
