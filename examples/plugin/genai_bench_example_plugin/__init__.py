"""An example genai-bench plugin: an event sink (sink.py), a live-page panel (panel.py) and a request backend for a
non-OpenAI JSON API (backend.py) with a small server speaking that API (server.py)."""
