"""The same tests as on one Redis server, collected here so they run on the cluster (the
`backend` and `stack` fixtures of this folder put them there)."""

from tests.auth.test_sessions import *  # noqa: F403
from tests.lobby.test_request_entry import *  # noqa: F403
from tests.webhooks.test_webhook_events import *  # noqa: F403
