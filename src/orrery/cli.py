"""``orrery serve``: the command-line entry point.

Each command imports what it runs only once it runs (the server: FastAPI, SQLAlchemy, uvicorn), so
``orrery --help`` and a client command start quickly.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Any, get_args

from orrery import keys, uploads
from orrery.observability.logs import LogFormat
from orrery.recording import cli as recording_cli
from orrery.recording.modes import RecordingMode

if TYPE_CHECKING:
    from orrery.config import ProviderConfig, Settings

log = logging.getLogger("orrery")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orrery", description="OpenAI-compatible Responses API server")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the server")
    serve.add_argument("--provider", action="append", metavar="ID=BASE_URL",
                       help="an OpenAI-compatible upstream, or ID=gguf:PATH for a GGUF model run in-process "
                            "(repeatable); API key from ORRERY_<ID>_API_KEY; default: the embedded "
                            "SmolLM2-135M-Instruct as local")
    serve.add_argument("--config", help="YAML config file (default: $ORRERY_CONFIG)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8321)")
    serve.add_argument("--db", help="SQLAlchemy URL of the store (default sqlite:///~/.orrery/orrery.db)")
    serve.add_argument("--workers", type=int, help="worker processes sharing the store (default 1)")
    serve.add_argument("--log-level", help="debug, info, warning or error (default info)")
    serve.add_argument("--log-format", choices=get_args(LogFormat),
                       help="log lines as text, or one JSON object each (default text; $ORRERY_LOG_FORMAT)")
    serve.add_argument("--recording-mode", choices=[m.value for m in RecordingMode],
                       help="record or replay upstream calls (default live; $ORRERY_RECORDING_MODE)")
    serve.add_argument("--recording-dir", help="where recordings live (default ~/.orrery/recordings; "
                                               "$ORRERY_RECORDING_DIR)")
    recording_cli.add_commands(commands)
    keys.add_commands(commands)
    uploads.add_commands(commands)
    return parser


async def _migrate(settings: Settings) -> None:
    from orrery.store.database import create_engine, migrate

    engine = create_engine(settings.db_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


def _log_embedded_model(provider: ProviderConfig) -> None:
    from orrery.inference import gguf

    assert provider.model_path is not None
    log.info("no provider configured: answering with the embedded model %s/%s (%s, llama.cpp on the CPU). "
             "To use another backend: orrery serve --provider ID=BASE_URL (e.g. --provider "
             "openai=https://api.openai.com/v1 with ORRERY_OPENAI_API_KEY set), --provider "
             "local=gguf:/path/model.gguf for another GGUF model, or a config file with 'providers'",
             provider.id, gguf.model_name(provider.model_path), provider.model_path.name)


def serve(args: argparse.Namespace) -> None:
    import asyncio

    import orjson
    import uvicorn

    from orrery.app import MIGRATED_ENV, SETTINGS_ENV, create_app
    from orrery.config import load_settings
    from orrery.inference import gguf
    from orrery.observability import logs, metrics
    from orrery.recording.recorder import Recorder
    from orrery.urls import redacted
    from orrery.workers import PortInUse, run_workers

    settings = load_settings(
        config_path=args.config,
        provider_specs=args.provider,
        overrides={"host": args.host, "port": args.port, "db_url": args.db, "workers": args.workers,
                   "log_level": args.log_level, "log_format": args.log_format, "recording_mode": args.recording_mode,
                   "recording_dir": args.recording_dir},
    )
    embedded = not settings.providers
    if embedded:
        settings = settings.model_copy(update={"providers": (gguf.default_provider(),)})
    for provider in settings.providers:
        if provider.model_path is not None:
            gguf.require_backend(provider)
    logs.configure(settings.log_level, settings.log_format)
    providers = ", ".join(f"{p.id}={redacted(p.base_url)}" for p in settings.providers)
    log.info("orrery on http://%s:%d/v1, store %s, providers: %s", settings.host, settings.port,
             redacted(settings.db_url), providers)
    if embedded:
        _log_embedded_model(settings.providers[0])
    recorder = Recorder.from_settings(settings)
    if recorder is not None:
        recorder.store.start_usage_log()
        log.info("recording mode %s, recordings in %s", recorder.mode.value, recorder.store.directory)
    options: dict[str, Any] = {"host": settings.host, "port": settings.port, "log_level": settings.log_level,
                               "access_log": False, "timeout_graceful_shutdown": 5,
                               "timeout_keep_alive": settings.keep_alive}
    if settings.log_format == "json":
        options["log_config"] = None  # uvicorn's lines too go to the root logger's JSON lines
    if settings.workers > 1:
        asyncio.run(_migrate(settings))
        os.environ[SETTINGS_ENV] = orjson.dumps(settings.to_json()).decode()
        os.environ[MIGRATED_ENV] = "1"
        try:
            with metrics.shared_by_workers():
                run_workers(uvicorn.Config("orrery.app:app_from_env", factory=True, workers=settings.workers,
                                           **options))
        except PortInUse as exc:
            raise SystemExit(f"orrery: {exc}") from None
    else:
        uvicorn.run(create_app(settings), **options)


def _run(args: argparse.Namespace) -> int:
    from orrery.config import load_settings

    if args.command == "serve":
        serve(args)
        return 0
    if args.command == "recordings":
        settings = load_settings(config_path=None)
        assert settings.recording_dir is not None
        return recording_cli.run(args, settings.recording_dir)
    if args.command == "keys":
        return keys.run(args)
    return uploads.run(args)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    from orrery.config import ConfigError

    try:
        code = _run(args)
        sys.stdout.flush()
    except ConfigError as exc:
        print(f"orrery: {exc}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:
        # The reader left early (``orrery recordings list | head``): stop quietly, with the status
        # of a process ended by SIGPIPE, as other tools do; stdout goes to /dev/null so that the
        # interpreter's last flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(128 + signal.SIGPIPE)
    except KeyboardInterrupt:
        sys.exit(128 + signal.SIGINT)
    sys.exit(code)
