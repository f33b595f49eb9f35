"""The server's own view (issue 14): its /metrics scraped during the benchmark, read into one vocabulary.

vocabulary: the table of engine metric names and the reader; scraper: the scraping greenlet and its sources; runs:
one run's scrapes, their summary and the generated-token cross-check.
"""

from genai_bench.servermetrics.runs import RunServerMetrics, ServerSample, mismatch_message, token_mismatch
from genai_bench.servermetrics.scraper import AUTO, OFF, ServerMetrics, metrics_url, source_urls
from genai_bench.servermetrics.vocabulary import ENGINES, SERIES, ExpositionError, Reader, parse_samples

__all__ = ["AUTO", "ENGINES", "OFF", "SERIES", "ExpositionError", "Reader", "RunServerMetrics", "ServerMetrics",
           "ServerSample", "metrics_url", "mismatch_message", "parse_samples", "source_urls", "token_mismatch"]
