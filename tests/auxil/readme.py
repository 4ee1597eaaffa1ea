"""The README's example webhook receiver, as printed (the readme_receiver fixture runs it)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "whsec_" + base64.b64encode(b"rudaw's webhook signing key 2026").decode()


def receiver_source() -> str:
    """The Python block that follows the ``receiver-example`` marker in the README."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- receiver-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README.md lost its receiver example"
    return match.group(1)
