"""Live transports: Server-Sent Events on /events and a WebSocket on /ws, both fed by the bus (spec §7.4)."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator

import gevent
from flask import Flask, Response, request
from flask_sock import ConnectionClosed, Sock

from genai_bench import events
from genai_bench.events import Event, EventBus
from genai_bench.web.context import error_response, web_context

log = logging.getLogger(__name__)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# Bytes; /ws only sends, so a client has nothing longer to say, and a bigger message closes its connection (1009).
MAX_CLIENT_MESSAGE = 4096


def parse_types(text: str | None) -> frozenset[str] | None:
    """The ?types= filter, or None for all; raises ValueError naming an unknown type."""
    if not text:
        return None
    types = frozenset(t.strip() for t in text.split(",") if t.strip())
    unknown = types - set(events.EVENT_TYPES)
    if unknown:
        raise ValueError(f"unknown event type(s) {', '.join(sorted(unknown))}; known: {', '.join(events.EVENT_TYPES)}")
    return types


def parse_last_event_id(header: str | None, query: str | None) -> int | None:
    """The id the client saw last (Last-Event-ID header wins over ?last_event_id=), or None."""
    for text in (header, query):
        if text:
            try:
                return int(text.removeprefix("0-"))  # a Redis stream entry id 0-N names event N (docs/redis.md)
            except ValueError:
                return None
    return None


def heartbeat_json(last_id: int) -> str:
    """A heartbeat envelope; it carries the id of the last event sent and takes no id of its own."""
    return json.dumps({"id": last_id, "event_type": events.HEARTBEAT, "timestamp": time.time(), "data": {}})


def event_stream(bus: EventBus, types: frozenset[str] | None, last_event_id: int | None,
                 heartbeat_interval: float) -> Iterator[Event | str]:
    """Events for one client: the missed ones (or a state snapshot), then live ones; heartbeat strings when idle."""
    subscription = bus.subscribe(types)
    try:
        backlog = bus.since(last_event_id) if last_event_id is not None else None
        last_sent = last_event_id if backlog is not None else 0
        if backlog is None:  # a new client, or one the history cannot catch up: start from the current state
            backlog = bus.snapshot()
        for event in backlog:
            if subscription.wants(event):
                last_sent = max(last_sent, event.id)
                yield event
        while True:
            event = subscription.get(timeout=heartbeat_interval)
            if event is None:
                if subscription.ended:
                    return
                yield heartbeat_json(last_sent)
            elif event.id > last_sent:
                last_sent = event.id
                yield event
    finally:
        subscription.close()


def sse_frames(items: Iterator[Event | str], retry_ms: int) -> Iterator[str]:
    """SSE text: a retry hint, then one unnamed frame per event (`id:` + `data:`), heartbeats without an id."""
    yield f"retry: {retry_ms}\n\n"
    for item in items:
        yield item.sse if isinstance(item, Event) else f"data: {item}\n\n"


def sse_view():
    """GET /events: the event stream as text/event-stream."""
    context = web_context()
    try:
        types = parse_types(request.args.get("types"))
    except ValueError as exc:
        return error_response(400, str(exc))
    last_id = parse_last_event_id(request.headers.get("Last-Event-ID"), request.args.get("last_event_id"))
    # Subscribing happens inside the generator, so a HEAD request or an unread response leaks no queue.
    frames = sse_frames(event_stream(context.bus, types, last_id, context.heartbeat_interval), context.retry_ms)
    return Response(frames, mimetype="text/event-stream", headers=SSE_HEADERS)


def send_events(ws, items: Iterator[Event | str]) -> None:
    """Send each item as a text frame until the client leaves; when the stream ends, close, so the reader ends too."""
    try:
        for item in items:
            ws.send(item.json if isinstance(item, Event) else item)
        ws.close()
    except ConnectionClosed:
        pass
    except Exception:  # a dying stream is logged, never silent
        log.exception("WebSocket stream failed")


def discard_incoming(ws, poll: float = 1.0) -> None:
    """Read and drop what the client sends (the stream is one-way), so nothing piles up, until the connection ends.

    A message over the size cap makes the WebSocket close (1009) without waking a reader, hence the polling.
    """
    try:
        while ws.connected:
            ws.receive(timeout=poll)
    except ConnectionClosed:
        pass


def stop_reading(environ: dict) -> None:
    """Stop reading the client's TCP connection, so the server ends it rather than parse what the client still sends
    as HTTP requests (simple-websocket only closes its own duplicate of the socket)."""
    stream = environ.get("wsgi.input")
    stream = getattr(stream, "rfile", stream)  # gevent's server keeps the socket where simple-websocket finds it
    connection = environ.get("gunicorn.socket") or getattr(getattr(stream, "raw", None), "_sock", None)
    try:
        if connection is not None:
            connection.shutdown(socket.SHUT_RD)
    except OSError:  # already gone
        pass


def init_app(app: Flask) -> None:
    """Register /events and /ws on the app."""
    app.add_url_rule("/events", "events", sse_view, methods=["GET"])
    app.config["SOCK_SERVER_OPTIONS"] = {"max_message_size": MAX_CLIENT_MESSAGE}
    sock = Sock(app)

    @sock.route("/ws")
    def websocket(ws) -> None:
        """GET /ws: the same envelopes as WebSocket text frames."""
        context = web_context()
        try:
            types = parse_types(request.args.get("types"))
        except ValueError as exc:
            ws.close(reason=1008, message=str(exc))
            return
        last_id = parse_last_event_id(None, request.args.get("last_event_id"))
        items = event_stream(context.bus, types, last_id, context.heartbeat_interval)
        sender = gevent.spawn(send_events, ws, items)
        try:
            discard_incoming(ws)
        finally:
            sender.kill()
            stop_reading(ws.environ)
