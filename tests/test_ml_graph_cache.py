"""Exported ONNX graphs kept between processes (ml/onnx_modules.py): read back instead of
exported again, checked against the network before they are used, keyed by what they depend on.
Real networks (MTCNN's R-Net and O-Net on their shipped weights), real exports, real files."""

import copy
import hashlib
from pathlib import Path

import pytest
import torch

from ml.mtcnn import ONet, RNet, network_load
from ml.onnx_modules import derived_graph, graph_folder, graph_key, onnx_module
from ml.weights import weight_path

from .worker_process import warmed_worker_prints

REPO = Path(__file__).resolve().parent.parent
EXPORTER = "torch.onnx._internal.torchscript_exporter"


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ML_GRAPH_CACHE", str(tmp_path / "graphs"))
    return tmp_path / "graphs"


def rnet() -> torch.nn.Module:
    return network_load(RNet(), weight_path("mtcnn_rnet"))


def outputs(module, batch) -> tuple[torch.Tensor, ...]:
    with torch.inference_mode():
        return tuple(module(batch))


def crops(seed: int) -> torch.Tensor:
    return torch.rand((5, 3, 24, 24), generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_a_kept_graph_is_read_back_and_gives_what_the_export_gave(folder):
    network = rnet()
    exported = onnx_module(network, (3, 24, 24))
    assert type(exported).__name__ == "OnnxModule"
    [kept] = folder.iterdir()
    assert kept.name.startswith(f"{graph_key(network, (3, 24, 24))}.")
    written = kept.stat().st_mtime_ns, kept.stat().st_ino
    read_back = onnx_module(rnet(), (3, 24, 24))
    assert (kept.stat().st_mtime_ns, kept.stat().st_ino) == written   # read, not written again
    batch = crops(1)
    for theirs, ours, torchs in zip(outputs(exported, batch), outputs(read_back, batch),
                                    outputs(network, batch), strict=True):
        assert torch.equal(theirs, ours)
        assert torch.allclose(ours, torchs, atol=1e-5)


def test_a_graph_that_is_not_the_networks_is_exported_again(folder):
    """A file under the network's name that holds another network's graph (here R-Net's
    weights changed after its graph was kept there) is found out by the check and replaced."""
    network = rnet()
    onnx_module(network, (3, 24, 24))
    [kept] = folder.iterdir()
    changed = copy.deepcopy(network)
    with torch.no_grad():
        changed.dense5_1.bias[1] += 3.0     # the face logit alone: the probabilities move
    key = graph_key(changed, (3, 24, 24))
    assert key != graph_key(network, (3, 24, 24))
    stale = folder / f"{key}.{kept.name.split('.')[1]}.onnx"    # whole, but R-Net's graph
    stale.write_bytes(kept.read_bytes())
    module = onnx_module(changed, (3, 24, 24))
    [replaced] = folder.glob(f"{key}.*.onnx")                          # exported again
    assert replaced != stale and replaced.read_bytes() != kept.read_bytes()
    batch = crops(2)
    for ours, torchs in zip(outputs(module, batch), outputs(changed, batch), strict=True):
        assert torch.allclose(ours, torchs, atol=1e-5)


def test_a_damaged_kept_graph_is_removed_and_made_again(folder):
    """A kept file whose bytes no longer match the digest in its name (damaged after it was
    written) is not loaded: removed, and the graph made again, for an exported network and for
    a rewritten shipped file alike."""
    from ml import yunet

    network = rnet()
    onnx_module(network, (3, 24, 24))
    derived_graph(weight_path("yunet"), yunet.runtime_graph)
    for kept in list(folder.iterdir()):
        damaged = bytearray(kept.read_bytes())
        damaged[len(damaged) // 2] ^= 0xFF
        kept.write_bytes(bytes(damaged))
    module = onnx_module(network, (3, 24, 24))
    assert derived_graph(weight_path("yunet"), yunet.runtime_graph) == yunet.runtime_graph(
        weight_path("yunet"))
    assert len(list(folder.iterdir())) == 2
    for kept in folder.iterdir():
        assert hashlib.sha256(kept.read_bytes()).hexdigest()[:16] == kept.name.split(".")[1]
    batch = crops(4)
    for ours, torchs in zip(outputs(module, batch), outputs(network, batch), strict=True):
        assert torch.allclose(ours, torchs, atol=1e-5)


def test_the_key_follows_the_weights_the_shape_and_the_network():
    network = rnet()
    assert graph_key(network, (3, 24, 24)) == graph_key(copy.deepcopy(network), (3, 24, 24))
    assert graph_key(network, (3, 24, 24)) != graph_key(network, (3, 25, 25))
    assert graph_key(network, (3, 24, 24)) != graph_key(RNet().eval(), (3, 24, 24))
    onet = network_load(ONet(), weight_path("mtcnn_onet"))
    assert graph_key(onet, (3, 48, 48)) != graph_key(network, (3, 48, 48))


def test_a_folder_that_cannot_be_written_costs_only_the_export(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ML_GRAPH_CACHE", str(blocker / "graphs"))
    network = rnet()
    module = onnx_module(network, (3, 24, 24))
    assert type(module).__name__ == "OnnxModule"
    assert "not kept" in caplog.text
    batch = crops(3)
    for ours, torchs in zip(outputs(module, batch), outputs(network, batch), strict=True):
        assert torch.allclose(ours, torchs, atol=1e-5)


def test_a_rewritten_shipped_graph_is_kept_and_follows_its_file(folder, tmp_path):
    """SFace's and YuNet's graphs, rewritten from their shipped files, are kept: read back
    byte for byte without rewriting (the kept file is not written again), and a changed file
    gets its own rewrite."""
    from ml import sface_graph, yunet

    for name, derive in (("sface", sface_graph.runtime_graph), ("yunet", yunet.runtime_graph)):
        path = weight_path(name)
        graph = derived_graph(path, derive)
        assert graph == derive(path)
        [kept] = [file for file in folder.iterdir() if file.read_bytes() == graph]
        written = kept.stat().st_mtime_ns, kept.stat().st_ino
        assert derived_graph(path, derive) == graph
        assert (kept.stat().st_mtime_ns, kept.stat().st_ino) == written
    copy_of_yunet = tmp_path / "yunet.onnx"
    copy_of_yunet.write_bytes(weight_path("yunet").read_bytes())
    assert derived_graph(copy_of_yunet, yunet.runtime_graph) == yunet.runtime_graph(
        weight_path("yunet"))                      # the same bytes: the same kept graph
    before = set(folder.iterdir())
    import onnx

    model = onnx.load(str(copy_of_yunet))
    model.producer_name = "changed"
    onnx.save(model, str(copy_of_yunet))
    assert derived_graph(copy_of_yunet, yunet.runtime_graph) == yunet.runtime_graph(
        copy_of_yunet)
    assert len(set(folder.iterdir()) - before) == 1


def test_the_folder_defaults_to_the_var_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("ML_GRAPH_CACHE", raising=False)
    monkeypatch.setenv("LIVENESS_VAR_DIR", str(tmp_path))
    assert graph_folder() == tmp_path / "onnx-graphs"
    monkeypatch.delenv("LIVENESS_VAR_DIR")
    assert graph_folder() == REPO / "var" / "onnx-graphs"


def test_a_worker_whose_graphs_are_kept_does_not_run_the_exporter(tmp_path):
    """Two fresh processes loading and warming every model as a worker does, on one folder:
    the first exports and keeps the graphs, the second reads them back and never imports the
    exporter (~0.5 s of a worker's start, ~14 MiB of its memory) nor the onnx package (SFace's
    and YuNet's rewrites, ~9 MiB), and finds the same face."""
    env = {"ML_GRAPH_CACHE": str(tmp_path / "graphs")}
    first, second = (warmed_worker_prints(
        "face = models.detector.detect(picture)[0]\n"
        f"print({EXPORTER!r} in sys.modules or 'onnx' in sys.modules,\n"
        "      [round(v) for v in face.box])\n", env=env).split(" ", 1) for _ in range(2))
    assert first[0] == "True" and second[0] == "False", (first, second)
    assert first[1] == second[1]
    assert len(list((tmp_path / "graphs").iterdir())) >= 7    # R-Net, O-Net, the
    # MiniFASNets, SFace, YuNet
