"""Feed-forward model files: safetensors with a JSON header; loading never unpickles code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from stylepipe.arbitrary import TRAINED_UPSAMPLING, UPSAMPLING_MODES, FineTunedTransformer
from stylepipe.errors import StylepipeError
from stylepipe.frames import atomic_file
from stylepipe.transformer import ARCHS, TransformerNet

FINETUNED = FineTunedTransformer.arch

HEADER_KEY = "stylepipe"


def save_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], header: dict[str, Any]) -> None:
    """Write tensors and a JSON header (architecture, style, weights source, steps, losses) atomically."""
    with atomic_file(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata={HEADER_KEY: json.dumps(header)})


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and header of a checkpoint; `.pth` state dicts are read with weights_only=True."""
    path = Path(path)
    if not path.is_file():
        raise StylepipeError(f"{path}: model file not found; leave feedforward.model empty to train one")
    try:
        if path.suffix == ".safetensors":
            with safe_open(str(path), framework="pt") as handle:
                header = json.loads((handle.metadata() or {}).get(HEADER_KEY, "{}"))
                tensors = {key: handle.get_tensor(key) for key in handle.keys()}
            if not isinstance(header, dict):
                raise StylepipeError(f"{path}: the model's stylepipe header is not a JSON object")
            return tensors, header
        state = torch.load(path, map_location="cpu", weights_only=True)
    except StylepipeError:
        raise
    except Exception as exc:  # noqa: BLE001 - pickled code, corruption: all end as one clear line
        raise StylepipeError(f"{path}: cannot read model ({type(exc).__name__}: {str(exc)[:160]})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise StylepipeError(f"{path}: expected a state dict of tensors")
    return state, {}


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """A per-style network (a TransformerNet, or a FineTunedTransformer) with the checkpoint's weights, in eval
    mode, and the checkpoint's header."""
    tensors, header = read_checkpoint(path)
    model_tensors = {k.removeprefix("model."): v for k, v in tensors.items() if not k.startswith("optim.")}
    arch = header.get("arch") or _guess_arch(model_tensors, path)
    if arch not in (*ARCHS, FINETUNED):
        raise StylepipeError(f"{path}: the model's header names arch {arch!r}, which is not one of {', '.join((FINETUNED, *ARCHS))}")
    if arch == FINETUNED:
        # Fine-tuned models saved before the upsampling was recorded were trained with nearest in both layers.
        upsampling = header.get("upsampling", list(TRAINED_UPSAMPLING))
        try:
            model: torch.nn.Module = FineTunedTransformer(upsampling=tuple(upsampling))
        except (TypeError, ValueError):
            raise StylepipeError(f"{path}: the model's header gives upsampling {upsampling!r}; expected two of {', '.join(UPSAMPLING_MODES)}") from None
    else:
        model = TransformerNet(arch)
    try:
        model.load_state_dict(model_tensors)
    except RuntimeError as exc:
        raise StylepipeError(f"{path}: not a stylepipe {arch} model ({str(exc).splitlines()[0][:160]})") from None
    return model.to(device).eval(), header


def _guess_arch(tensors: dict[str, torch.Tensor], path: str | Path) -> str:
    if "style" in tensors and any(key.startswith("transformer.") for key in tensors):
        return FINETUNED
    width = tensors.get("encoder.0.conv.weight")
    for arch, spec in ARCHS.items():
        if width is not None and width.shape[0] == spec.widths[0]:
            return arch
    raise StylepipeError(f"{path}: not a stylepipe feed-forward model (no header and unknown layout)")
