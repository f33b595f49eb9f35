"""What is written or shown never carries a credential: URLs and the recorded command line."""

import pytest

from genai_bench.redaction import redact_url, redacted_command


@pytest.mark.parametrize("url, shown", [
    ("http://user:password@host:8000/v1", "http://***@host:8000/v1"),
    ("https://token@host/v1", "https://***@host/v1"),
    ("http://host/v1?api_key=s3cret&model=m", "http://host/v1?api_key=***&model=m"),
    ("http://host/?KEY=a&Token=b&access_token=c&sig=d&X-Amz-Signature=e",
     "http://host/?KEY=***&Token=***&access_token=***&sig=***&X-Amz-Signature=***"),
    ("http://localhost:8000", "http://localhost:8000"),
])
def test_redact_url_hides_userinfo_and_key_like_parameters(url, shown):
    assert redact_url(url) == shown


def test_redact_url_shows_nothing_of_a_url_it_cannot_take_apart():
    assert redact_url("http://[secret@host") == "***"


def test_redacted_command_hides_every_secret_option_in_both_spellings():
    command = ["--alert-webhook", "https://hooks/T0/secret", "--streaming-redis-url=redis://:pw@h:6379/0", "--model", "m"]
    assert redacted_command(command) == ["--alert-webhook", "***", "--streaming-redis-url=***", "--model", "m"]
