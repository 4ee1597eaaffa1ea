"""Where the shared real-world feed corpus lies (``../shared/feeds`` beside the repository, or
NEWSBOT_SHARED_FEEDS), and why its tests skip when it is not there."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_FEEDS = Path(
    os.environ.get("NEWSBOT_SHARED_FEEDS")
    or Path(__file__).resolve().parents[2].parent / "shared" / "feeds"
)
ABSENT_REASON = (
    f"shared feed corpus not found at {SHARED_FEEDS} "
    "(set NEWSBOT_SHARED_FEEDS to the folder holding MANIFEST.tsv)"
)
