"""Restore an archive (or score a benchmark) on a Ray cluster: the local batch, scaled out.

``irstudio restore INPUT... --out OUT --cluster [auto|local|ray://HOST:PORT]`` and ``irstudio eval
--cluster ...`` run here; the extra ``irstudio[cluster]`` installs Ray, which is imported only when
a pool opens (``pool.import_ray``), so the default install is unchanged.

- ``worker``: ``WorkerSetup`` (which model, how planned; picklable) and ``RestoreWorker`` (one
  loaded model; restores items with ``batch.restore_item``, scores cases with
  ``evaluation.score_case``). No Ray.
- ``pool``: ``ClusterPool``, the Ray actors (one per GPU, or one per N CPUs with torch's threads
  set to N) and the loop that feeds them, retrying the work of a worker that died.
- ``jobs``: ``run_on_cluster`` (``run_batch``'s events, report and journal) and
  ``evaluate_on_cluster`` (``evaluate``'s scores).
- ``bench``: files/s on a local cluster against the local batch (``python -m
  irstudio.inference.cluster.bench``).

Inputs and outputs are paths every node can see (a shared file system); each worker reads its own
inputs and writes its own outputs, so only paths, outcomes and scores cross the object store.
docs/CLUSTER.md has the measurements, a plan for a million photos and the cluster commands.
"""

from irstudio.inference.cluster.jobs import (
    evaluate_on_cluster,
    files_per_unit,
    run_cluster_request,
    run_on_cluster,
)
from irstudio.inference.cluster.pool import (
    AUTO,
    INSTALL_HINT,
    LOCAL,
    MAX_ATTEMPTS,
    ClusterError,
    ClusterPool,
    PoolShape,
    check_address,
    import_ray,
    pool_shape,
    ray_installed,
)
from irstudio.inference.cluster.worker import RestoreWorker, WorkerInfo, WorkerSetup

__all__ = [
    "AUTO",
    "INSTALL_HINT",
    "LOCAL",
    "MAX_ATTEMPTS",
    "ClusterError",
    "ClusterPool",
    "PoolShape",
    "RestoreWorker",
    "WorkerInfo",
    "WorkerSetup",
    "check_address",
    "evaluate_on_cluster",
    "files_per_unit",
    "import_ray",
    "pool_shape",
    "ray_installed",
    "run_cluster_request",
    "run_on_cluster",
]
