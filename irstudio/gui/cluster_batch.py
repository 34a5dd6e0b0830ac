"""The batch dialog's "Run on a Ray cluster": the same folder batch, restored by a cluster's workers.

``cluster_batch_work(request, choice, options)`` is ``TaskRunner`` work for a ``BatchRequest`` whose
``cluster`` is set. On the worker thread it connects (``inference.cluster.ClusterPool``; Ray is
imported there, never on the main thread), yields ``PlanStep(STARTING_CLUSTER)``, waits for a
worker to load the model, yields the pool's description as the chosen plan, then the
``BatchEvent``s of ``run_cluster_request`` (the local batch's journal, skips and retries), and
returns its ``BatchReport``. Cancel kills the workers; a missing Ray or an unreachable cluster
fails the job with a one-line message (``ClusterError``). The model is not loaded in this process.
"""

from __future__ import annotations

from irstudio import paths
from irstudio.core import CancelToken
from irstudio.gui.restore_jobs import AUTO_PRECISION, PlanStep, RunOptions
from irstudio.inference import BatchRequest
from irstudio.inference.cluster import ClusterPool, WorkerSetup, run_cluster_request
from irstudio.models import LIBRARY, ModelChoice

__all__ = ["STARTING_CLUSTER", "cluster_batch_work", "cluster_setup"]

STARTING_CLUSTER = "Starting the workers on the Ray cluster…"


def cluster_setup(choice: ModelChoice, options: RunOptions) -> WorkerSetup:
    """What each worker loads: ``choice``'s model (a library model from its file, which every node
    must see; shipped weights and baselines from each node's own install) under the model panel's
    device, precision and tiling."""
    return WorkerSetup(
        model_id=choice.spec.id,
        library_dir=paths.user_library_dir(),
        weights=choice.weights if choice.kind == LIBRARY else None,
        device=options.device,
        tile=options.tile,
        context=options.context,
        precision=None if options.precision == AUTO_PRECISION else options.precision,
    )


def cluster_batch_work(request: BatchRequest, choice: ModelChoice, options: RunOptions):
    """``TaskRunner`` work running ``request`` on ``request.cluster`` (see the module doc)."""
    setup = cluster_setup(choice, options)

    def work(token: CancelToken):
        token.raise_if_cancelled()
        yield PlanStep(STARTING_CLUSTER)
        with ClusterPool(request.cluster, setup) as pool:
            pool.wait_ready(token)
            yield PlanStep(f"Ray cluster: {pool.describe()}", chosen=True)
            return (yield from run_cluster_request(pool, request, token))

    return work
