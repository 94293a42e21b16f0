"""Who is live in each LiveKit room, as LiveKit's webhooks tell it."""
