"""The training / evaluation engine: a lean loop on torch.distributed driven by mmengine-style Python configs.

``Trainer(cfg).fit()`` trains; ``evaluate_checkpoint(cfg, checkpoint)`` evaluates. See ``vision/engine/README.md``
for the model and evaluator contracts other packages implement.
"""

from vision.engine.dist import DistContext, setup_distributed, teardown_distributed
from vision.engine.evaluation import ClassificationEvaluator, EvalContext
from vision.engine.tester import evaluate_checkpoint
from vision.engine.trainer import NonFiniteLossError, Trainer

__all__ = [
    "ClassificationEvaluator",
    "DistContext",
    "EvalContext",
    "NonFiniteLossError",
    "Trainer",
    "setup_distributed",
    "teardown_distributed",
    "evaluate_checkpoint",
]
