"""`python -m genai_bench` runs the command line."""

from genai_bench.cli import main

main()
