"""Face perception and liveness models: plain Python, no Django.

Models load lazily, once per process, from local files whose checksums are verified
(`ml.weights`); nothing is downloaded at run time. Results are plain dataclasses.
"""

import sys

# Triton compiles GPU kernels for torch.compile, which nothing in this package uses; importing
# torchvision's package loads it all the same (torchvision.ops imports torch._dynamo, which
# imports triton when it is installed, as the torch build we install brings it). Its library
# stayed mapped in every worker process: ~95 MiB of RSS (docs/BENCHMARKS.md, Perception). The
# worker's models no longer import torchvision's package (ml/mtcnn.py), but the optional
# facenet embedder and the tests still do. Marked absent before anything imports it, torch
# answers "no triton", as on a machine without it.
if "triton" not in sys.modules:
    sys.modules["triton"] = None  # type: ignore[assignment]  # the import system's "absent"
