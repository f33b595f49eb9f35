"""Scale-out on Locust's own engine: a MasterRunner in the benchmark process, and N worker processes: local ones it
starts (`--num-workers`) or `genai-bench worker` processes joining from any host (`--distributed`).

The master never sees a worker's users: each worker forwards its finished requests as batched custom messages,
and the master hands them to the same record path the in-process mode uses (collector → dashboards → events, run
files), so everything downstream is identical. Request limits stay exact: the master holds each run's budget and
leases it to the workers a few requests at a time (never more than is left). Local workers share the master's
CLOCK_MONOTONIC; a remote worker's clock offset is measured (clock) and its timestamps moved onto the master's.

messages: what master and workers say to each other (the protocol); master: LocustCluster and ClusterRun; members:
the workers as the master knows them, and how they join; clock: the offset estimate; payload: the settings and
files a remote worker receives; worker: the `genai-bench worker` process.
"""

from genai_bench.distributed.master import ClusterRun, LocustCluster, NodeState, probe_port
from genai_bench.distributed.worker import WorkerNode, WorkerSettings, WorkerUser, run_worker, worker_seed

__all__ = ["ClusterRun", "LocustCluster", "NodeState", "WorkerNode", "WorkerSettings", "WorkerUser", "probe_port",
           "run_worker", "worker_seed"]
