"""What onnxruntime raises when well-typed, well-shaped inputs do not fit the graph (a RoI's
batch index past the batch, batch sizes that differ between inputs), told to the client as
the node's own words: no library source paths or C++ signatures."""

import re

from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument, RuntimeException

MODEL_REFUSALS = (Fail, InvalidArgument, RuntimeException)

# "/onnxruntime_src/.../roi_pool.cc:43 onnxruntime::Status onnxruntime::RoiPool<T>::Compute(
# onnxruntime::OpKernelContext*) const [with T = float] roi_batch_id < batch_size was false."
_SOURCE_AND_SIGNATURE = re.compile(
    r"\S+\.(?:cc|cpp|cxx|cu|cuh|c|h|hpp):\d+\s+"  # the source file and line
    r"(?:[^()]*\([^()]*(?:\([^()]*\)[^()]*)*\)(?:\s+const)?(?:\s+\[with [^\]]*\])?\s+)?"
)
_SOURCE_PATH = re.compile(
    r"(?:[A-Za-z]:)?[\\/]?(?:[\w.+-]+[\\/])+[\w.+-]+\.(?:cc|cpp|cxx|cu|cuh|c|h|hpp|py)(?::\d+)?"
)


def refusal_message(error: Exception) -> str:
    """onnxruntime's message without its source paths: what the node said."""
    message = str(error).rsplit("Status Message: ", 1)[-1]
    message = _SOURCE_AND_SIGNATURE.sub("", message)
    return " ".join(_SOURCE_PATH.sub("(onnxruntime)", message).split())
