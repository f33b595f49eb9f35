"""genai-bench: token-level benchmark for OpenAI-compatible LLM servers with a live dashboard."""

# Patch once, first: Locust, geventhttpclient and the WSGI servers all expect a patched stdlib, and
# patching after ssl/socket users are imported leaves sockets blocking.
from gevent import monkey

if not monkey.is_module_patched("socket"):
    monkey.patch_all()

__version__ = "0.1.0"
