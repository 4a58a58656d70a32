"""The `replay`, `dlq` and `asyncapi` subcommands of `itemx`: their arguments and output.
The work is done in ops/replay.py, ops/dlq.py and api_gateway/asyncapi.py."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ASYNCAPI_PATH = Path(__file__).resolve().parent.parent / "docs" / "asyncapi.json"


def start_at(value: str) -> str | int:
    """`--from-offset`: "first" or a non-negative offset."""
    if value == "first":
        return value
    if value.isdigit():
        return int(value)
    raise argparse.ArgumentTypeError("expected first or a non-negative integer offset")


def since(value: str) -> datetime:
    """`--since`: an ISO 8601 time; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("expected an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _replay_reports(args: argparse.Namespace) -> int:
    from broker.replay import StreamReader, StreamStalled
    from ops.progress import Progress
    from ops.replay import ReplayRefused, replay_reports

    start = args.since if args.since is not None else args.from_offset
    reader = StreamReader(args.amqp_url, idle_timeout=args.idle_timeout)
    try:
        result = await replay_reports(
            args.database_url, reader, start, force=args.force,
            progress=Progress("replay reports"),
        )
    except (ReplayRefused, StreamStalled) as exc:
        print(f"replay refused or incomplete, reports unchanged: {exc}", file=sys.stderr)
        return 1
    span = (
        f"offsets {result.first_offset}..{result.last_offset}"
        if result.first_offset is not None else "no events"
    )
    print(f"{result.mode}: read {result.read} event(s) ({span}), {result.purchases}"
          f" purchase.completed, {result.undecodable} undecodable skipped")
    if result.entries is not None:
        print(f"reports rebuilt: {result.entries} inbox entries (buyer and seller per purchase)")
    else:
        print(f"caught up: {result.applied} entries newly applied, the rest were there")
    return 0


async def _dlq_list(args: argparse.Namespace) -> int:
    from ops.dlq import list_counts

    counts = await list_counts(args.amqp_url)
    width = max(len(count.queue) for count in counts)
    print(f"{'queue':<{width}}  messages  consumers")
    for count in counts:
        messages = "missing" if count.messages is None else str(count.messages)
        consumers = "-" if count.consumers is None else str(count.consumers)
        print(f"{count.queue:<{width}}  {messages:>8}  {consumers:>9}")
    return 0


async def _dlq_show(args: argparse.Namespace) -> int:
    from ops.dlq import show

    letters = await show(args.amqp_url, args.queue, args.limit)
    if not letters:
        print(f"{args.queue} is empty")
    for number, letter in enumerate(letters, 1):
        died = letter.died_at.isoformat() if letter.died_at else "?"
        print(f"#{number} message_id={letter.message_id} type={letter.type}")
        print(f"   reason={letter.reason} deaths={letter.deaths} at={died}")
        print(f"   from queue={letter.queue} exchange={letter.exchange!r}"
              f" routing_keys={list(letter.routing_keys)}")
        print(f"   headers={_printable(letter.headers)}")
        print(f"   body={letter.preview()}")
    return 0


async def _dlq_redrive(args: argparse.Namespace) -> int:
    from ops.dlq import redrive

    result = await redrive(args.amqp_url, args.queue, args.limit)
    for message_id, exchange, routing_key in result.redriven:
        print(f"re-driven {message_id} -> exchange {exchange!r} routing key {routing_key}")
    for message_id, why in result.kept:
        print(f"kept {message_id}: {why}", file=sys.stderr)
    print(f"{len(result.redriven)} re-driven, {len(result.kept)} left in {args.queue}")
    return 1 if result.kept else 0


async def _dlq_purge(args: argparse.Namespace) -> int:
    from ops.dlq import check_queue, purge

    check_queue(args.queue)
    if not args.yes:
        if not sys.stdin.isatty():
            print("refusing to purge without --yes", file=sys.stderr)
            return 2
        prompt = f"delete every message in {args.queue}? type its name to confirm: "
        answer = await asyncio.to_thread(input, prompt)
        if answer.strip() != args.queue:
            print("not purged")
            return 1
    print(f"purged {await purge(args.amqp_url, args.queue)} message(s) from {args.queue}")
    return 0


async def _asyncapi(args: argparse.Namespace) -> int:
    return await asyncio.to_thread(write_asyncapi, args.output, check=args.check)


def write_asyncapi(path: Path, *, check: bool = False) -> int:
    """Write the AsyncAPI document to `path` (or only compare it: 1 when out of date)."""
    from api_gateway.asyncapi import document_bytes

    current = path.read_bytes() if path.exists() else b""
    if check:
        if current != document_bytes():
            print(f"{path} is out of date: run `itemx asyncapi`", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(document_bytes())
    print(f"wrote {path}" + (" (unchanged)" if current == document_bytes() else ""))
    return 0


def _printable(headers: dict[str, Any]) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="replace")
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        if isinstance(value, datetime):
            return value.isoformat()
        return value

    return repr(plain(headers))


Command = Callable[[argparse.Namespace], Awaitable[int]]


def _dlq_errors_reported(command: Command) -> Command:
    """A refused dlq command (unknown queue, no x-death) is a message and exit 2, not a
    traceback."""

    async def run(args: argparse.Namespace) -> int:
        from ops.dlq import DlqError

        try:
            return await command(args)
        except DlqError as exc:
            print(f"itemx dlq: {exc}", file=sys.stderr)
            return 2

    return run


def add_replay(commands: argparse._SubParsersAction) -> None:
    replay = commands.add_parser("replay", help="rebuild a read model from the event stream")
    models = replay.add_subparsers(dest="model", required=True)
    reports = models.add_parser(
        "reports",
        help="rebuild the reports from the stream (from first), or catch up (offset/time)",
    )
    where = reports.add_mutually_exclusive_group()
    where.add_argument("--from-offset", type=start_at, default="first",
                       help="first (default: full rebuild) or an offset (catch-up)")
    where.add_argument("--since", type=since, help="ISO time to catch up from")
    reports.add_argument("--force", action="store_true",
                         help="rebuild even if the stream lost older events (or is empty)")
    reports.add_argument("--idle-timeout", type=float, default=15.0,
                         help="seconds without a delivery before the replay gives up")
    reports.set_defaults(run=_replay_reports)


def add_dlq(commands: argparse._SubParsersAction) -> None:
    dlq = commands.add_parser("dlq", help="inspect, re-drive and purge dead-letter queues")
    actions = dlq.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every dead-letter queue with its message count"
                       ).set_defaults(run=_dlq_errors_reported(_dlq_list))
    show = actions.add_parser("show", help="print messages without removing them")
    show.add_argument("queue")
    show.add_argument("--limit", type=int, default=10)
    show.set_defaults(run=_dlq_errors_reported(_dlq_show))
    redrive = actions.add_parser("redrive", help="republish to the original exchange and key")
    redrive.add_argument("queue")
    redrive.add_argument("--limit", type=int, help="at most this many (default: all now)")
    redrive.set_defaults(run=_dlq_errors_reported(_dlq_redrive))
    purge = actions.add_parser("purge", help="delete every message of a dead-letter queue")
    purge.add_argument("queue")
    purge.add_argument("--yes", action="store_true", help="do not ask")
    purge.set_defaults(run=_dlq_errors_reported(_dlq_purge))


def add_asyncapi(commands: argparse._SubParsersAction) -> None:
    asyncapi = commands.add_parser("asyncapi", help="write the AsyncAPI document of all events")
    asyncapi.add_argument("--output", type=Path, default=ASYNCAPI_PATH)
    asyncapi.add_argument("--check", action="store_true",
                          help="only check that the file is up to date (exit 1 if not)")
    asyncapi.set_defaults(run=_asyncapi)
