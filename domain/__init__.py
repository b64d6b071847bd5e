"""Domain logic that is not chat-specific; handlers/ and scheduler/ both import it, never the reverse."""
