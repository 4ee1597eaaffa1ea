"""Test helpers: local servers, database provisioning, the bot as a process, and what several
test modules share (talking to the running bot, reading what it stored, waiting)."""
