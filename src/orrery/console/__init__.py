"""The web console: the built single-page app under ``/console/``, ``/`` sent there, and the
little JSON it needs that ``/v1/*`` lacks (``console.api``).

The page holds no data: it calls ``/v1/*`` from the browser with the key its user gives, so
the files are served to anyone and every answer stays behind the API's own authentication.
The files are the build output of ``console/`` at the repository's top, committed here.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from orrery.console.api import console_api

STATIC = Path(__file__).resolve().parent / "static"
PATH = "/console"


def mount_console(app: FastAPI, recording_dir: Path | None) -> None:
    """Serve the console at ``/console/``, its JSON under ``/console/api/``, and redirect ``/`` to it."""
    app.include_router(console_api(recording_dir))

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(f"{PATH}/")

    app.mount(PATH, StaticFiles(directory=STATIC, html=True), name="console")
