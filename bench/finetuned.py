"""Fine-tuning the arbitrary network for one style with Huang et al.'s temporal loss, against the arbitrary network
itself and a `johnson` network trained from scratch for the same time (issue 30's figures).

Training clips and test clips are stylepipe.photo_scene's exact-motion clips (a camera panning, zooming and turning
over a real photograph while a round object crosses it), passed through H.264 as footage is. The networks train on
clips of `--train` photographs and are measured on clips of `--test` photographs they never saw. For each network
it prints, over the test frames:

- the style distance (VGG Gram distance to the painting, stylepipe.fidelity), lower is more of the style;
- the edge correlation with the content (stylepipe.metrics.edge_correlation), higher keeps more of the picture;
- the warping error before any blend along the true motion (Lai et al.), over the input's, lower flickers less;
- the network's time a frame;
and the same three figures after the pipeline's blend (`temporal.method: blend` with the config's defaults, along
DIS medium flow with its consistency mask and content change, as the stabilize rule does). Each is given twice: on the
network's frames, and on the frames as delivered (encoded with the config's `encode` defaults, H.264 crf 18 4:2:0,
and decoded), which is what a viewer sees. A network trained against the loss network can match its Gram matrices
with pixel-fine colour patterns that the delivery's 4:2:0 chroma removes, so only the delivered figure says whether
it paints more of the style.

    .venv/bin/python bench/finetuned.py [--minutes 10] [--style PAINTING] [--size 256] [--keep DIR] [--set key=value] [--reuse]

`--reuse` measures the networks a kept folder (`--keep`) already holds instead of training them again.

`--set` overrides a `feedforward.train` knob of the fine-tuning (lr, content_weight, style_weight, temporal_weight,
...); `johnson` trains with the knobs' defaults but `temporal_weight: 100`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "bench")]

from gatys_drift import bench_style  # noqa: E402
from stylepipe import arbitrary_weights  # noqa: E402
from stylepipe.arbitrary import TRAINED_UPSAMPLING, FineTunedTransformer  # noqa: E402
from stylepipe.demo import photographs, pipe_frames_to_h264  # noqa: E402
from stylepipe.feedforward import prepare, style_image_tensor, stylize_batches  # noqa: E402
from stylepipe.fidelity import FidelityMeter  # noqa: E402
from stylepipe.checkpoint import load_model  # noqa: E402
from stylepipe.flow import FlowEstimator, consistency_mask, warping_error  # noqa: E402
from stylepipe.frames import read_rgb  # noqa: E402
from stylepipe.lossnet import fetch_named_weights, load_loss_network, save_weights  # noqa: E402
from stylepipe.metrics import edge_correlation  # noqa: E402
from stylepipe.photo_scene import PhotoScene  # noqa: E402
from stylepipe.settings import TrainSettings, schema_defaults  # noqa: E402
from stylepipe.temporal import blend_share, blend_with_previous, content_change  # noqa: E402
from stylepipe.train import load_training_clips, painting_at_training_scale, train  # noqa: E402
from stylepipe.transformer import TransformerNet  # noqa: E402
from stylepipe.video import encode_video, iter_frames, probe  # noqa: E402

FPS = Fraction(24)


def scene_clip(path: Path, background: np.ndarray, crossing: np.ndarray, size: tuple[int, int], frames: int) -> tuple[PhotoScene, list[np.ndarray]]:
    """An exact-motion clip through H.264 (crf 16), and its frames as decoded."""
    scene = PhotoScene(background, crossing, size[0], size[1], frames, view=0.85)
    if not path.exists():
        pipe_frames_to_h264([], (scene.render(t) for t in range(frames)), size, FPS, path)
    return scene, list(iter_frames(path))


def true_errors(frames: list[np.ndarray], scene: PhotoScene, offset: int = 0) -> list[float]:
    """Lai's E_warp of each frame after the first against the one before, along the scene's exact motion."""
    return [warping_error(frames[t], frames[t - 1], *scene.backward_flow(t - offset)) for t in range(1, len(frames))]


def blend_flows(frames: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each frame after the first: the backward flow the blend follows (DIS medium, as `flow.preset: auto` is in
    feed-forward mode), its consistency mask, and the content change along it."""
    estimator, out = FlowEstimator("dis", "medium"), []
    for t in range(1, len(frames)):
        backward, forward = estimator(frames[t], frames[t - 1]), estimator(frames[t - 1], frames[t])
        out.append((backward, consistency_mask(backward, forward), content_change(frames[t], frames[t - 1], backward)))
    return out


def blended(out: list[np.ndarray], flows: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """The stabilize rule's blend of a network's frames, with the config's defaults."""
    temporal = schema_defaults("temporal")
    stable = [out[0]]
    for t, (backward, reliable, change) in enumerate(flows, start=1):
        share = blend_share(reliable, temporal["strength"], change, temporal["change_scale"])
        stable.append(blend_with_previous(out[t], stable[-1], backward, share, temporal["warp"]))
    return stable


def delivered(frames: list[np.ndarray], source: Path, work: Path) -> list[np.ndarray]:
    """`frames` as the assemble rule delivers them (the config's `encode` defaults), decoded again."""
    encode = schema_defaults("encode")
    path = work / "delivered.mp4"
    encode_video(iter(frames), probe(source), path, crf=encode["crf"], codec=encode["codec"], audio_source=None,
                 pix_fmt=encode["pix_fmt"])
    decoded = list(iter_frames(path))
    path.unlink()
    return decoded


def run_network(model: torch.nn.Module, frames: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
    model = prepare(model, "cpu")
    began = time.perf_counter()
    out = list(stylize_batches(model, frames, "cpu", 1))
    return out, (time.perf_counter() - began) / len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="training time of each network")
    parser.add_argument("--style", default=None)
    parser.add_argument("--size", type=int, default=256, help="training crops, pixels square")
    parser.add_argument("--train", default="chelsea,rocket", help="photographs of the training clips")
    parser.add_argument("--test", default="astronaut,coffee", help="photographs of the test clips (not trained on)")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--keep", default=None)
    parser.add_argument("--skip-johnson", action="store_true")
    parser.add_argument("--set", action="append", default=[], help="feedforward.train key=value")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    parser.add_argument("--steps", type=int, default=0, help="train this many steps instead of --minutes' worth")
    parser.add_argument("--reuse", action="store_true", help="measure the networks the --keep folder holds, untrained again")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="stylepipe-finetune-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)

    style_path = bench_style(args.style, work)
    style = read_rgb(style_path)
    lossnet_path = work / "lossnet.safetensors"
    if not lossnet_path.exists():
        save_weights(lossnet_path, *fetch_named_weights("auto"))
    net = load_loss_network(lossnet_path)
    weights_path = work / "arbitrary.safetensors"
    if not weights_path.exists():
        arbitrary_weights.convert(weights_path)
    nets = arbitrary_weights.load_networks(weights_path)
    with torch.no_grad():
        vector = nets.predictor(style_image_tensor(style, 256))

    train_names, test_names = args.train.split(","), args.test.split(",")
    photos = photographs(*dict.fromkeys(train_names + test_names + ["coffee"]))
    height = args.width * 9 // 16 // 2 * 2
    train_clips = []
    for name in train_names:
        crossing = "coffee" if name != "coffee" else train_names[0]
        path = work / f"train_{name}.mp4"
        scene_clip(path, photos[name], photos[crossing], (args.size * 16 // 9 // 2 * 2, args.size), 48)
        train_clips.append(str(path))
    tests, floors = [], []
    arbitrary = FineTunedTransformer(nets.transformer, vector, upsampling=TRAINED_UPSAMPLING).eval()
    for k, name in enumerate(test_names):
        crossing = test_names[(k + 1) % len(test_names)]
        scene, frames = scene_clip(work / f"test_{name}.mp4", photos[name], photos[crossing], (args.width, height), 24)
        tests.append((name, scene, frames))
        # The floor: the arbitrary network's painting of each photograph, carried by the camera exactly. Its strokes
        # follow the motion perfectly, and Lai's bilinear warp still scores them above the content.
        # Painted at the scale the frames show the photograph (strokes have a fixed size in pixels), then brought back.
        shrink = 1 / scene._base
        painted = {}
        for key in (name, crossing):
            photo = photos[key]
            small = cv2.resize(photo, (round(photo.shape[1] * shrink), round(photo.shape[0] * shrink)), interpolation=cv2.INTER_AREA)
            painted[key] = cv2.resize(run_network(arbitrary, [small])[0][0], photo.shape[1::-1], interpolation=cv2.INTER_CUBIC)
        still = PhotoScene(painted[name], painted[crossing], args.width, height, 24, view=0.85)
        floors.append(float(np.mean(true_errors([still.render(t) for t in range(24)], scene)) / np.mean(true_errors(frames, scene))))

    defaults = {**schema_defaults("feedforward", "train"), "image_size": args.size}
    block = dict(defaults)
    for assignment in args.set:
        key, value = assignment.split("=", 1)
        block[key] = yaml.safe_load(value)
    clips = load_training_clips(train_clips, args.size, 48)
    # The painting as the train rule sees it. This bench used to take --size as its width, which paints Starry Night
    # at 0.625x the scale the train rule trains at.
    painting = painting_at_training_scale(style, args.size)

    def train_for(arch: str, model: torch.nn.Module | None, settings: TrainSettings) -> tuple[torch.nn.Module, dict]:
        """Train until `--minutes` have passed: a first short run times a step, the real one takes as many as fit."""
        if args.reuse and (work / f"{arch}.safetensors").exists():
            kept, header = load_model(work / f"{arch}.safetensors")
            print(f"{arch}: reused {work / f'{arch}.safetensors'} ({header.get('steps')} steps)")
            return kept, {}
        probe_settings = TrainSettings(**{**settings.__dict__, "steps": 3})
        began = time.perf_counter()
        train(net, painting, clips,
              probe_settings, work / f"probe_{arch}.safetensors", work / f"probe_{arch}.partial.safetensors", {"run": "probe"},
              log=lambda line: None, model=_copy(model))
        per_step = (time.perf_counter() - began) / 3
        steps = args.steps or max(1, int(args.minutes * 60 / per_step))
        final_settings = TrainSettings(**{**settings.__dict__, "steps": steps})
        planned = f"{steps} steps (--steps)" if args.steps else f"{steps} steps in {args.minutes:g} min"
        print(f"{arch}: {per_step:.2f} s a step in a 3-step probe, {planned}")
        trained = _copy(model) if model is not None else TransformerNet(arch)
        began = time.perf_counter()
        result = train(net, painting,
                       clips, final_settings, work / f"{arch}.safetensors", work / f"{arch}.partial.safetensors", {"run": arch},
                       log=lambda line: print("  " + line) if "step" in line and ("/" in line) else None, model=trained)
        result["seconds"] = time.perf_counter() - began
        print(f"{arch}: trained {steps} steps in {result['seconds'] / 60:.1f} min")
        return trained.eval(), result

    finetune_settings = TrainSettings.from_config(block, "finetuned")
    finetuned, ft_result = train_for("finetuned", FineTunedTransformer(nets.transformer, vector), finetune_settings)
    # train_for trains a copy, so `arbitrary` is still the pretrained network.
    networks = {"arbitrary": arbitrary, "finetuned": finetuned}
    if not args.skip_johnson:
        # From scratch with the temporal weight docs/feedforward.md gives it (the --set knobs are the fine-tuning's).
        johnson, _ = train_for("johnson", None, TrainSettings.from_config({**defaults, "temporal_weight": 100.0}, "johnson"))
        networks["johnson (from scratch)"] = johnson

    meter = FidelityMeter(net)
    grams = meter.style_grams(np.array(Image.fromarray(style).resize((args.width, round(args.width * style.shape[0] / style.shape[1])))))
    flows = {test_name: blend_flows(frames) for test_name, _, frames in tests}
    rows: dict[str, dict[str, dict[str, float]]] = {stage: {} for stage in (
        "before the blend", "before the blend, delivered", "after the blend", "after the blend, delivered")}
    for name, model in networks.items():
        figures: dict[str, dict[str, list[float]]] = {stage: {"style": [], "edges": [], "ewarp": [], "input_ewarp": [], "seconds": []}
                                                      for stage in rows}
        for test_name, scene, frames in tests:
            out, seconds = run_network(model, frames)
            stable = blended(out, flows[test_name])
            source = work / f"test_{test_name}.mp4"
            for stage, shown in (("before the blend", out), ("before the blend, delivered", delivered(out, source, work)),
                                 ("after the blend", stable), ("after the blend, delivered", delivered(stable, source, work))):
                figures[stage]["seconds"].append(seconds)
                figures[stage]["style"] += [meter.measure(o, c, grams)[0] for o, c in zip(shown[::4], frames[::4])]
                figures[stage]["edges"] += [edge_correlation(c, o) for o, c in zip(shown, frames)]
                figures[stage]["ewarp"] += true_errors(shown, scene)
                figures[stage]["input_ewarp"] += true_errors(frames, scene)
            Image.fromarray(np.concatenate([frames[12], out[12], stable[12]], axis=1)).save(work / f"sheet_{test_name}_{name.split()[0]}.png")
        for stage in rows:
            rows[stage][name] = {key: float(np.mean(values)) for key, values in figures[stage].items()}
    for stage, table in rows.items():
        base = table["arbitrary"]
        print(f"\n{stage}:\n{'network':24s} {'style dist':>10s} {'x arb':>6s} {'edges':>6s} {'x arb':>6s} {'E_warp/input':>12s} {'x arb':>6s} {'ms/frame':>8s}")
        for name, row in table.items():
            ratio = row["ewarp"] / row["input_ewarp"]
            print(f"{name:24s} {row['style']:10.4f} {row['style'] / base['style']:6.2f} {row['edges']:6.3f} {row['edges'] / base['edges']:6.2f} "
                  f"{ratio:12.1f} {row['ewarp'] / base['ewarp']:6.2f} {row['seconds'] * 1000:8.1f}")
    (work / "figures.json").write_text(json.dumps({"rows": rows, "train": ft_result.get("train"), "settings": block}, indent=1, default=str))
    print(f"floor (the arbitrary network's painting of each photograph, moved exactly with the scene): E_warp "
          f"{np.mean(floors):.1f}x the input's")
    print(f"contact sheets (content | output | blended, frame 12) in {work}")


def _copy(model: torch.nn.Module | None) -> torch.nn.Module | None:
    import copy

    return copy.deepcopy(model) if model is not None else None


if __name__ == "__main__":
    main()
