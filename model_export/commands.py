"""The subcommands of `python -m model_export`, each a module with add_arguments and run."""

from types import ModuleType

from model_export import verify
from model_export.dataset import command as dataset
from model_export.evaluation import command as evaluate
from model_export.onnx_export import command as export
from model_export.training import command as train

COMMANDS: dict[str, ModuleType] = {
    "dataset": dataset,
    "train": train,
    "export": export,
    "verify": verify,
    "evaluate": evaluate,
}
