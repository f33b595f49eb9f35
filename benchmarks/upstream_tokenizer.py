"""Save genai-bench's built-in tokenizer as a local transformers tokenizer directory (no hub download needed).

Run by benchmarks/upstream.py with the upstream venv's Python (it has transformers, our venv does not):

    benchmarks/.venv-upstream/bin/python benchmarks/upstream_tokenizer.py SOURCE_TOKENIZER_JSON TARGET_DIR

Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json (an empty map: the built-in byte-level BPE
has no special tokens), then loads the directory back with AutoTokenizer, the way upstream genai-bench does, and
prints the token count of a probe sentence.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main() -> None:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(source))
    target.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(target))
    special = target / "special_tokens_map.json"
    if not special.exists():  # transformers 5 no longer writes it; older loaders look for it
        special.write_text(json.dumps({}) + "\n")
    loaded = AutoTokenizer.from_pretrained(str(target))
    probe = "Shall I compare thee to a summer's day? Thou art more lovely and more temperate."
    print(f"tokenizer ok: {type(loaded).__name__}, probe = {len(loaded.encode(probe, add_special_tokens=False))} tokens")


if __name__ == "__main__":
    main()
