"""Live streaming: the dashboard that turns benchmark progress into events, and its web server."""

from genai_bench.streaming.dashboard import EventDashboard, StreamingDashboard

__all__ = ["EventDashboard", "StreamingDashboard"]
