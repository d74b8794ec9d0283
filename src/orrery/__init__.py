"""orrery: an OpenAI-compatible Responses API server for any chat-completions backend."""

__version__ = "0.1.0"
