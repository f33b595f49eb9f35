"""The benchmark tasks (--task): for each, the scenarios it takes, how its requests are built, sent and read, and
which metrics apply.

A task is one TaskSpec in TASKS; the config, the planner, the users and the views ask the registry instead of
testing task names, so a further task is one more entry here (and its own client when its answers differ).
Plugins add tasks (request backends) the same way: a TaskSpec named by an entry point of the `genai_bench.backends`
group (docs/plugins.md); the built-ins are declared there too, and kept from this module when no metadata lists them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from genai_bench.client import OpenAIStreamingClient, Target
from genai_bench.images import IMAGE_TASK
from genai_bench.plugins import BACKENDS_GROUP, load_group
from genai_bench.pooling_client import EMBEDDINGS, RERANK, PoolingClient
from genai_bench.sampling import RequestSource, SampledRequest
from genai_bench.scenarios import Scenario
from genai_bench.tokenizer import Tokenizer

TEXT_TO_TEXT = "text-to-text"
TEXT_TO_EMBEDDINGS = "text-to-embeddings"
TEXT_TO_RERANK = "text-to-rerank"
# Metrics of every task; streamed tasks add the token-timing ones. The views show only a run's task's metrics.
COMMON_METRICS = ("e2e_latency",)
STREAMED_METRICS = ("ttft", "tpot", "itl", "output_latency", "input_throughput", "output_throughput",
                    "output_inference_speed")
RERANK_ENDPOINTS = ("/rerank", "/v1/rerank", "/v2/rerank")
DEFAULT_BATCH_SIZES = (1, 8)


@dataclass(frozen=True)
class TaskSpec:
    """One --task: its scenarios, its default scenario, whether --batch-size is its sweep axis, and its client."""

    name: str
    scenario_kinds: tuple[str, ...]  # the scenario letters it accepts ("dataset" and "trace" by name)
    scenario_forms: str  # the accepted forms, for the one-line error
    default_scenario: str
    batched: bool  # requests carry --batch-size inputs, and batch size is the sweep's axis
    new_client: Callable[[Target, Tokenizer], OpenAIStreamingClient]

    @property
    def streamed(self) -> bool:
        """True when answers stream tokens, so TTFT, TPOT and ITL apply."""
        return not self.batched

    @property
    def metrics(self) -> tuple[str, ...]:
        """The per-request metrics that apply to this task's requests."""
        return COMMON_METRICS + (STREAMED_METRICS if self.streamed else ())

    def scenario_problem(self, scenario: Scenario) -> str | None:
        """A one-line error when `scenario` is not one of this task's, or None."""
        if scenario.kind in self.scenario_kinds:
            return None
        owner = next((task.name for task in TASKS.values() if scenario.kind in task.scenario_kinds), None)
        belongs = f" is for --task {owner}" if owner else " does not apply"
        return (f"--traffic-scenario {scenario.text}{belongs}; --task {self.name} takes {self.scenario_forms}, "
                f"e.g. {self.default_scenario}")

    def source(self, source: RequestSource, batch_size: int | None) -> RequestSource:
        """The run's request source: `source` itself, or for a batched task one that builds `batch_size` inputs."""
        return BatchedInputs(source, batch_size or 1) if self.batched else source

    def to_dict(self) -> dict:
        """What the views need to know about the task (the status context and the metadata carry it)."""
        return {"name": self.name, "batched": self.batched, "streamed": self.streamed, "metrics": list(self.metrics)}


def _pooling_client(kind: str) -> Callable[[Target, Tokenizer], PoolingClient]:
    return lambda target, tokenizer: PoolingClient(target, tokenizer, kind)


TEXT_TASK = TaskSpec(TEXT_TO_TEXT, ("D", "N", "U", "dataset", "trace"), "D, N, U or dataset", "D(100,100)", False,
                     OpenAIStreamingClient)
EMBEDDINGS_TASK = TaskSpec(TEXT_TO_EMBEDDINGS, ("E",), "E(tokens)", "E(256)", True, _pooling_client(EMBEDDINGS))
RERANK_TASK = TaskSpec(TEXT_TO_RERANK, ("R",), "R(document_tokens,query_tokens)", "R(256,64)", True,
                       _pooling_client(RERANK))
# Upstream's first vision default; the text part comes from a dataset, or the corpus (images.py).
IMAGE_TEXT_TASK = TaskSpec(IMAGE_TASK, ("I",), "I(width,height) or I(width,height,count)", "I(512,512)", False,
                           OpenAIStreamingClient)
BUILTIN_TASKS: dict[str, TaskSpec] = {task.name: task for task in (TEXT_TASK, EMBEDDINGS_TASK, RERANK_TASK,
                                                                     IMAGE_TEXT_TASK)}


def plugin_tasks(builtins: Mapping[str, TaskSpec],
                 report: Callable[[str], None] = logging.getLogger(__name__).warning) -> dict[str, TaskSpec]:
    """The tasks of the `genai_bench.backends` entry points (a TaskSpec, or a callable returning one); one that is
    not a TaskSpec, is misnamed, or takes a built-in's name is reported in one line and skipped."""
    found: dict[str, TaskSpec] = {}
    for plugin in load_group(BACKENDS_GROUP, report):
        spec = plugin.target
        where = f"plugin {plugin.name!r} ({BACKENDS_GROUP})"
        try:
            spec = spec if isinstance(spec, TaskSpec) or not callable(spec) else spec()
        except Exception as exc:  # a broken plugin must never stop a benchmark
            report(f"{where} failed to build its task and is skipped: {type(exc).__name__}: {exc}")
            continue
        if not isinstance(spec, TaskSpec):
            report(f"{where} is not a genai_bench.tasks.TaskSpec ({type(spec).__name__}) and is skipped")
        elif spec.name != plugin.name:
            report(f"{where} names its task {spec.name!r}; the entry point's name must be the task's; skipped")
        elif builtins.get(spec.name, spec) is not spec:
            report(f"{where} takes the name of a built-in task and is skipped")
        else:
            found[spec.name] = spec
    return found


class TaskRegistry(Mapping[str, TaskSpec]):
    """The --task names: the built-ins at once, the plugins' tasks once a name outside them is asked for (so that
    importing the registry never imports a plugin, and a plugin may import this module)."""

    def __init__(self, builtins: dict[str, TaskSpec]) -> None:
        self.builtins = builtins
        self._all: dict[str, TaskSpec] | None = None

    def __getitem__(self, name: str) -> TaskSpec:
        return self.builtins[name] if name in self.builtins else self.everything()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.everything())

    def __len__(self) -> int:
        return len(self.everything())

    def everything(self) -> dict[str, TaskSpec]:
        """Every task: the built-ins first, then the plugins' (loaded on the first call)."""
        if self._all is None:
            self._all = {**self.builtins, **plugin_tasks(self.builtins)}
        return self._all


TASKS = TaskRegistry(BUILTIN_TASKS)


def task_spec(name: str) -> TaskSpec:
    """The registered task called `name` (KeyError when unknown: the config refuses unknown tasks first)."""
    return TASKS[name]


def task_context(name: str) -> dict:
    """The task's view description, or a text task's for a name this version does not know (an old folder)."""
    return (TASKS.get(name) or TASKS[TEXT_TO_TEXT]).to_dict() | {"name": name}


class BatchedInputs:
    """Builds each request's inputs for a batched task: `batch_size` texts to embed (E), or a query and `batch_size`
    documents to rank (R), each token-exact, from the run's one source and generator."""

    def __init__(self, source: RequestSource, batch_size: int) -> None:
        self.source = source
        self.batch_size = batch_size

    def sample(self, scenario: Scenario, rng: np.random.Generator, index: int = 0) -> SampledRequest:
        """The run's request number `index`: its inputs and their total token count."""
        if scenario.kind == "R":
            document_tokens, query_tokens = scenario.params
            query = self._text(query_tokens, rng, index)
            documents = [self._text(document_tokens, rng, index) for _ in range(self.batch_size)]
            return SampledRequest({"query": query, "documents": documents},
                                  query_tokens + document_tokens * self.batch_size, None)
        tokens = scenario.params[0]
        inputs = [self._text(tokens, rng, index) for _ in range(self.batch_size)]
        return SampledRequest(inputs, tokens * self.batch_size, None)

    def _text(self, tokens: int, rng: np.random.Generator, index: int) -> str:
        # Each input is a one-input E scenario of the wrapped source, so prompts stay token-exact however it builds them.
        return self.source.sample(Scenario("E", (tokens,)), rng, index).prompt
