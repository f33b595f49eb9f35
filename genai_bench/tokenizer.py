"""Token counting: the built-in tokenizer and loading user-supplied Hugging Face tokenizers."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from tokenizers import Tokenizer as HFTokenizer

DATA_DIR = Path(__file__).parent / "data"
BUILTIN_TOKENIZER_PATH = DATA_DIR / "tokenizer.json"
CORPUS_PATH = DATA_DIR / "corpus.txt"
BUILTIN_NAME = "genai-bench-builtin"


class TokenizerError(ValueError):
    """A tokenizer could not be loaded from what the user gave."""


class Tokenizer:
    """A thin wrapper over a `tokenizers.Tokenizer` that counts, encodes and decodes without special tokens."""

    def __init__(self, backend: HFTokenizer, name: str) -> None:
        self._backend = backend
        self.name = name

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, without special tokens."""
        return self._backend.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, encoded in one native call."""
        return [e.ids for e in self._backend.encode_batch(texts, add_special_tokens=False)]

    def encode_batch_with_ends(self, texts: list[str]) -> list[tuple[list[int], list[int]]]:
        """Token ids of each text and, for each token, the character offset where it ends."""
        return [(e.ids, [end for _, end in e.offsets]) for e in self._backend.encode_batch(texts, add_special_tokens=False)]

    def count(self, text: str) -> int:
        """Number of tokens in `text` (encoded without offsets, which is faster)."""
        return len(self._backend.encode_batch_fast([text], add_special_tokens=False)[0].ids)

    def count_batch(self, texts: list[str]) -> list[int]:
        """Number of tokens in each text, in one native call."""
        return [len(e.ids) for e in self._backend.encode_batch_fast(texts, add_special_tokens=False)]

    def token_ends(self, text: str) -> list[int]:
        """For each token of `text`, the character offset where it ends."""
        return [end for _, end in self._backend.encode(text, add_special_tokens=False).offsets]

    def pre_token_spans(self, text: str) -> list[tuple[int, int]]:
        """Where each pre-token of `text` starts and ends, in characters (empty without a pre-tokenizer)."""
        if self._backend.pre_tokenizer is None:
            return []
        return [span for _, span in self._backend.pre_tokenizer.pre_tokenize_str(text)]

    def pipeline_settings(self) -> tuple[bool, bytes | None, float | None, list[str]] | None:
        """Whether it normalizes, its pre-tokenizer's settings (JSON), its model's dropout and its added tokens."""
        try:
            pre_tokenizer = self._backend.pre_tokenizer
            return (self._backend.normalizer is not None,
                    None if pre_tokenizer is None else pre_tokenizer.__getstate__(),
                    getattr(self._backend.model, "dropout", None),
                    [token.content for token in self._backend.get_added_tokens_decoder().values()])
        except Exception:  # a backend the tokenizers library cannot describe: no shortcut for it
            return None

    def decode(self, ids: list[int]) -> str:
        """Text of a token id sequence."""
        return self._backend.decode(ids, skip_special_tokens=True)

    def id_to_token(self, token_id: int) -> str | None:
        """The vocabulary entry for one id."""
        return self._backend.id_to_token(token_id)

    @property
    def vocab_size(self) -> int:
        """Size of the vocabulary."""
        return self._backend.get_vocab_size()


def build_builtin_backend(corpus_path: Path = CORPUS_PATH) -> HFTokenizer:
    """Train the built-in byte-level BPE tokenizer on the bundled corpus (used by scripts/build_tokenizer.py)."""
    from tokenizers import decoders, models, pre_tokenizers, trainers

    backend = HFTokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=4096,
        min_frequency=1,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train([str(corpus_path)], trainer)
    return backend


@functools.lru_cache(maxsize=1)
def builtin_tokenizer() -> Tokenizer:
    """The shipped byte-level BPE tokenizer shared by the client and the simulator; needs no download."""
    return Tokenizer(HFTokenizer.from_file(str(BUILTIN_TOKENIZER_PATH)), BUILTIN_NAME)


def load_tokenizer(spec: str | None) -> Tokenizer:
    """Load a tokenizer from a tokenizer.json file, a directory holding one, an HF hub id, or the built-in one."""
    if not spec or spec == BUILTIN_NAME:
        return builtin_tokenizer()
    path = Path(spec).expanduser()
    if path.is_dir():
        path = path / "tokenizer.json"
        if not path.is_file():
            raise TokenizerError(f"--model-tokenizer: no tokenizer.json in directory {spec!r}")
    if path.is_file():
        try:
            return Tokenizer(HFTokenizer.from_file(str(path)), str(spec))
        except Exception as exc:  # the tokenizers library raises a bare Exception on bad JSON
            raise TokenizerError(f"--model-tokenizer: {spec!r} is not a valid tokenizer.json ({exc})") from None
    if os.sep in spec and not spec.count("/") == 1:
        raise TokenizerError(f"--model-tokenizer: {spec!r} does not exist")
    try:
        return Tokenizer(HFTokenizer.from_pretrained(spec), spec)
    except Exception as exc:
        raise TokenizerError(
            f"--model-tokenizer: could not load {spec!r} from the Hugging Face hub ({exc}); "
            "pass a local tokenizer.json or directory instead"
        ) from None
