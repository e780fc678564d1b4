"""The run lifecycle as a library: a training, evaluation or robustness job, from plain options to stored results.

Each job is one function that the command line calls (and every torchrun process, the tools, the benchmarks): it
opens the store only for short transactions (WAL, so the inspector reads while a run trains), records who
owns a training run and renews that heartbeat, with the step count, as it trains (store/ownership.py), turns
Ctrl-C and SIGTERM into an ``interrupted`` run that ``--resume`` continues, a crash into a ``failed`` run with
its error, and writes each result in one transaction, so a process killed at any point leaves the store as it
was before that write. Events go to ``on_event``: core.train's, plus :class:`RunStarted`; the command layer
turns them into a progress bar and prints what the job returns.
"""

from .compare import CompareJob, compare_job
from .common import RunFailed, adapters_root, package_versions, perturbation_model, run_folder
from .evaluate import EvalJob, eval_job
from .robustness import RobustnessJob, robustness_job
from .options import TrainOptions
from .train import RunStarted, TrainJob, train_job

__all__ = ["CompareJob", "EvalJob", "RobustnessJob", "RunFailed", "RunStarted", "TrainJob", "TrainOptions", "adapters_root",
           "compare_job", "eval_job", "package_versions", "perturbation_model", "robustness_job", "run_folder", "train_job"]
