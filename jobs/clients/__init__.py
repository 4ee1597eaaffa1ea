"""The seams to outside systems that the workers talk to: the lean Telegram sender, the
feed fetcher (with its address guard) and the outlet's comment endpoint. Each is one small
class or function, so a worker is tested against a local server, never the internet."""
