"""The services a running server wires at start-up, which every route reaches through its request."""

from __future__ import annotations

from dataclasses import dataclass

from orrery.conversations.service import ConversationService
from orrery.files.service import FileService
from orrery.inference.router import ModelRouter
from orrery.responses.background import BackgroundRunner
from orrery.responses.service import ResponseService
from orrery.vectors.service import VectorStoreService


@dataclass
class Services:
    router: ModelRouter
    responses: ResponseService
    background: BackgroundRunner
    conversations: ConversationService
    files: FileService
    vector_stores: VectorStoreService
    websocket_max_age: float
    """Seconds a WebSocket connection serves responses."""
