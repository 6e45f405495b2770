"""The one settings object. Every value can be set as REGIONSERVE_<NAME> in the environment."""

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.inference.cpu_plan import SPINNING


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGIONSERVE_")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    model_path: Path = Path("models/region_classifier.onnx")
    # Serve a model without its recorded samples (<stem>.samples.npz), so without a self-test.
    allow_no_self_test: bool = False
    # Execution providers in order of preference; those onnxruntime lacks are skipped.
    providers: list[str] = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    # None: one per 4 cores available (service/inference/cpu_plan.py), each on its share of them.
    processes: int | None = Field(None, ge=1, description="server processes on one socket")
    # None: from the cores available (service/inference/cpu_plan.py); 0 lets onnxruntime choose.
    intra_op_threads: int | None = Field(None, ge=0, description="threads per session")
    ort_spinning: bool = Field(
        SPINNING, description="onnxruntime workers busy-wait between ops, until the run returns"
    )
    # fp16: the float16 file (`export --precision fp16`) on CUDA; refused at start elsewhere.
    precision: Literal["fp32", "fp16"] = "fp32"
    # Inputs and outputs through onnxruntime's IO binding; None: on CUDA only.
    io_binding: bool | None = None

    max_request_bytes: int = Field(20 * 2**20, ge=1)
    max_image_pixels: int = Field(40_000_000, ge=1)
    max_boxes: int = Field(256, ge=1)
    max_top_k: int = Field(20, ge=1)
    # V2: an answer's size estimated before the run; JSON values (and lists) in a request.
    max_answer_mib: int = Field(16, ge=1)
    max_json_values: int = Field(2**20, ge=1024)

    # Micro-batching across concurrent requests.
    # None: 8 on CUDA, 1 on CPU, where batched convolutions are no faster per image.
    max_batch_size: int | None = Field(None, ge=1)
    batch_delay_ms: float = Field(0.0, ge=0, description="0: batch whatever queued meanwhile")
    queue_size: int = Field(64, ge=1)
    # None: 1 on CUDA; on CPU from the cores available, each worker with a session of its own.
    inference_workers: int | None = Field(None, ge=1, description="batches run at once")
    request_timeout_s: float = Field(30.0, gt=0)

    # Proposals mode: selective search, then class-wise non-maximum suppression.
    # 384: with service/regions/proposals.py's search, the recall of 512 px at a third of the time.
    proposal_side: int = Field(384, ge=64, description="selective search runs at this long side")
    # Keeps nearly all of selective search's boxes on a 512 px side (bench/RESULTS.md: cluttered
    # recall 0.47 with 200, 0.64 with 1500, for 2 % more time: the search dominates).
    max_proposals: int = Field(1500, ge=1)
    min_proposal_side: int = Field(8, ge=1)
    score_threshold: float = Field(0.5, ge=0, le=1)
    nms_iou: float = Field(0.3, ge=0, le=1)
    # A model's own proposal head: proposals it is less sure of are dropped before the filter
    # above. 0.7 on the shipped model: precision 0.74 -> 0.93 on plain evaluation scenes for
    # recall 0.93 -> 0.92 (bench/RESULTS.md, proposals-objectness).
    min_objectness: float = Field(0.7, ge=0, le=1)

    # Superpixels mode: SLIC; 0 takes the model's own values from its metadata.
    superpixel_area: int = Field(0, ge=0)
    max_superpixels: int = Field(1024, ge=1)

    # Reliability: slow and idle clients, connections, decoding memory, shutdown.
    keep_alive_timeout_s: float = Field(5.0, gt=0, description="an idle connection is closed")
    header_timeout_s: float = Field(10.0, gt=0, description="from a request's first byte")
    body_timeout_s: float = Field(30.0, gt=0, description="from the end of a request's head")
    send_timeout_s: float = Field(
        10.0, gt=0, description="an answer the client stops reading must drain within this"
    )
    max_header_bytes: int = Field(65536, ge=1024)
    max_connections: int = Field(1000, ge=1)
    listen_backlog: int = Field(2048, ge=1)
    max_decode_mib: int = Field(256, ge=1, description="estimated from the image's header")
    # Decoded images and feeds of all requests at once (service/inference/memory_budget.py).
    memory_budget_mib: int = Field(1024, ge=1, description="else a request waits, then 503")
    shutdown_grace_s: int = Field(25, ge=1, description="then unfinished requests get 503")

    # Operations: cross-origin pages, compression, the log (README: Operations).
    cors_origins: Annotated[list[str], NoDecode] = Field(
        [], description="origins whose pages may call the API; a comma-separated list"
    )
    gzip_min_bytes: int = Field(4096, ge=0, description="smaller answers go uncompressed; 0: none")
    log_format: Literal["text", "json"] = "text"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def origins_from_list(cls, value: object) -> object:
        """`https://a.example,https://b.example`, or the same as a JSON list."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
