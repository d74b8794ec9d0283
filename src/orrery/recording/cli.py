"""``orrery recordings list | show | prune``: look after a directory of recordings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_commands(commands: argparse._SubParsersAction) -> None:
    recordings = commands.add_parser("recordings", help="list, show and prune recordings")
    actions = recordings.add_subparsers(dest="action", required=True)
    for name, help_text in (("list", "one line per recording: hash, test id, endpoint, model, size"),
                            ("show", "print one recording"),
                            ("prune", "delete recordings the last recording or replay run did not use")):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--dir", help="recordings directory (default: $ORRERY_RECORDING_DIR or "
                                          "~/.orrery/recordings)")
        if name == "show":
            action.add_argument("hash", help="the recording's hash, or a unique prefix of it")
        if name == "prune":
            action.add_argument("--dry-run", action="store_true", help="only say what would be deleted")


def run(args: argparse.Namespace, default_dir: Path) -> int:
    import orjson

    from orrery.recording.storage import RecordingStore

    store = RecordingStore(Path(args.dir).expanduser() if args.dir else default_dir)
    if args.action == "list":
        for recording in store.all():
            print(f"{recording.request_hash[:12]}  {recording.endpoint:<22} {recording.model:<28} "
                  f"{recording.size:>8}  {recording.test_id or '-'}")
        return 0
    if args.action == "show":
        matches = store.find(args.hash)
        if len(matches) != 1:
            print(f"orrery: {len(matches)} recordings in {store.directory} start with {args.hash!r}", file=sys.stderr)
            return 1
        sys.stdout.write(orjson.dumps(matches[0].data, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    used = store.used()
    if used is None:
        print(f"orrery: no usage log in {store.directory}: run the tests once in record or replay mode first",
              file=sys.stderr)
        return 1
    unused = [r for r in store.all() if r.request_hash not in used]
    for recording in unused:
        print(f"{'would delete' if args.dry_run else 'deleted'} {recording.path.name}  {recording.test_id or '-'}")
        if not args.dry_run:
            recording.path.unlink()
    print(f"{len(unused)} of {len(unused) + len(used)} recordings unused")
    return 0
