"""The bot's webhook endpoint as the tests run it (the webhook_server fixture): where it listens
and the secret it expects."""

SECRET = "s3cret-Token"
PATH = "/telegram/hook"
