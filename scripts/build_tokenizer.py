"""Regenerate genai_bench/data/tokenizer.json from the bundled corpus."""

from genai_bench.tokenizer import BUILTIN_TOKENIZER_PATH, build_builtin_backend

if __name__ == "__main__":
    build_builtin_backend().save(str(BUILTIN_TOKENIZER_PATH))
    print(f"wrote {BUILTIN_TOKENIZER_PATH}")
