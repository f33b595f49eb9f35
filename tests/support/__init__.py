"""Helpers the tests import: child processes, SSE reading, in-process servers and experiments. Fixtures that use
them live in the conftest files; nothing here is a fixture."""
