import os
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache


@lru_cache(maxsize=1)
def torch_device():
    """CUDA when present (or ML_DEVICE names one), else the CPU."""
    import torch

    wanted = os.environ.get("ML_DEVICE")
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def library_threads() -> int:
    """Intra-op threads for the libraries that take a count per model (onnxruntime, LiteRT):
    ML_THREADS, which a worker process gets from its share of the cores
    (liveness_project/celery.py); 1 where it is not set."""
    return max(1, int(os.environ.get("ML_THREADS", "1")))


@lru_cache(maxsize=1)
def background_threads() -> ThreadPoolExecutor:
    """library_threads() threads for a verify's work that can run beside its main line: a
    clip's frames decoded in parallel (ml/image.py), its face-replace embeddings while FaceMesh,
    one core's work, follows the face (ml/session.py). Made on first use, in the process that
    verifies (a worker process, after the fork)."""
    return ThreadPoolExecutor(library_threads(), thread_name_prefix="ml-background")


def beside(function, *args) -> Future:
    """`function(*args)` started on background_threads(), beside the caller's own work, when
    this process has two threads or more; run now, in the caller, when it has one (a second
    thread would only take turns with the caller on its one core)."""
    if library_threads() >= 2:
        return background_threads().submit(function, *args)
    done: Future = Future()
    try:
        done.set_result(function(*args))
    except Exception as error:  # noqa: BLE001 - handed to whoever reads the result
        done.set_exception(error)
    return done


def onnx_session_options():
    """onnxruntime's options for a model run in a worker: library_threads() intra-op threads
    that sleep when idle instead of spinning (a worker shares the cores with the web and the
    other libraries, and spinning threads took cores they needed: docs/BENCHMARKS.md), one
    inter-op thread, errors logged only, and no CPU memory arena: each session's arena kept
    the high-water mark of its intermediate tensors for good (YuNet's at 640 x 480, MTCNN's
    later stages, the MiniFASNets, CelebA-Spoof: ~65 MiB of a worker process's RSS together),
    and without it those models measured as fast (docs/BENCHMARKS.md, Perception). SFace
    turns its arena back on (ml/embedding.py)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = library_threads()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = False
    return options


def threads_limit(threads: int) -> None:
    """Caps the intra-op threads of torch and OpenCV in this process (a worker process)."""
    import cv2
    import torch

    threads = max(1, threads)
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


def _c_library_function(name: str):
    """The C library's function `name` through ctypes, or None where it has none (glibc's
    malloc extensions are missing from musl and macOS)."""
    import ctypes
    import ctypes.util

    library = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(library), name) if library else None
    except (AttributeError, OSError):
        return None


def release_free_heap() -> bool:
    """Hands the C heap's free pages back to the system (glibc's malloc_trim). Loading the
    models leaves tens of MiB of freed parse buffers (the ONNX graphs, weight files read
    whole) that glibc keeps mapped; trimmed once after loading they stop counting in every
    worker process's RSS (docs/BENCHMARKS.md, Perception). False where the C library has no
    malloc_trim (musl, macOS): nothing is done there."""
    trim = _c_library_function("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True


# mallopt's parameter number for the most malloc arenas (glibc's malloc.h)
M_ARENA_MAX = -8


def malloc_arenas_limit(arenas: int) -> bool:
    """Caps how many malloc arenas glibc makes in this process and the processes it forks
    (mallopt M_ARENA_MAX), unless MALLOC_ARENA_MAX or GLIBC_TUNABLES' glibc.malloc.arena_max
    already says (glibc reads those itself).
    By default glibc gives every thread that allocates an arena of its own, up to 8 per core,
    and keeps their high-water pages: a worker process's decoding and library threads grew its
    anonymous memory by ~140 MiB over serving every capture type; with 2 arenas by 89-104, and
    no verify measured slower (docs/BENCHMARKS.md, verify). False where the C library has no
    mallopt."""
    if os.environ.get("MALLOC_ARENA_MAX") or "glibc.malloc.arena_max" in os.environ.get(
            "GLIBC_TUNABLES", ""):
        return False
    mallopt = _c_library_function("mallopt")
    if mallopt is None:
        return False
    return bool(mallopt(M_ARENA_MAX, max(1, arenas)))
