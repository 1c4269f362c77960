"""What a user waits for with the real models: SmolVLM-256M and Depth-Anything-V2-Small at
their real sizes (random weights, real configs and processors), on this machine.

Prints, for a 1280 px photo that has been analysed:
  - time to the first streamed critique text, and the whole five-section critique
    (default settings: up to 150 tokens a section), each beside the bare cost of the
    model passes it needs: one vision encode plus the text passes, replayed as plain
    ``forward``/``generate`` calls on the same inputs with the same token counts; the
    ratio shows the waste (streaming, re-encoding, prompt building);
  - the depth map, beside the bare transformers processor + forward on the same photo;
  - peak resident memory of this process (both models loaded, as in the app), beside
    the size of their weights in memory;
  - for reference, one vision encode of the processor's default tiling (13 views of
    512 px), which every pass used to pay.
Targets on 2 CPU cores: first text <= 20 s, whole critique <= 90 s, depth <= 5 s,
peak RSS <= 3 GB. The models are built in a child process, so building them does not
count towards the peak.

    python benchmarks/bench_real_size.py [--work DIR] [--photo PHOTO] [--no-tiles] [--500m]

``--500m`` runs the critique with SmolVLM-500M instead (config reconstructed from its
model card), for the Models window's time of that critic.

Random weights rarely end a sentence, so every section runs to its token cap: the
critique time is an upper bound on what the real weights take.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from real_size_depth import photo_1280, time_bare_transformers, time_depth

from critique_app.core.analysis.analyzer import analyze
from critique_app.core.critic import choices as choices_module
from critique_app.core.critic import emotion as emotion_module
from critique_app.core.critic import vlm_score as vlm_score_module
from critique_app.core.critic.chat import model_inputs, render_prompt
from critique_app.core.critic.loading import load_language_model
from critique_app.core.critic.request import CritiqueRequest
from critique_app.core.critic.service import stream_critique

TARGETS = {"first": 20.0, "whole": 90.0, "depth": 5.0, "rss_gb": 3.0}


def build_models(work: Path, vlm_name: str) -> tuple[Path, Path]:
    """Both models, built once in a child process (its memory is not ours)."""
    vlm, depth = work / vlm_name, work / "Depth-Anything-V2-Small-hf"
    if not (vlm / "model.safetensors").is_file() or not (depth / "model.safetensors").is_file():
        code = ("import sys; sys.path.insert(0, sys.argv[1]);"
                "import real_size_vlm as v;"
                "from real_size_depth import build_real_depth_model as d;"
                "from pathlib import Path;"
                "v.build_real_smolvlm(Path(sys.argv[2]), getattr(v, sys.argv[4]));"
                "d(Path(sys.argv[3]))")
        configs = "REAL_CONFIGS_500M" if "500M" in vlm_name else "REAL_CONFIGS"
        subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), str(vlm),
                        str(depth), configs], check=True, capture_output=True)
    return vlm, depth


class PassRecorder:
    """Records the model passes a critique makes, to replay them bare afterwards."""

    def __init__(self, lm) -> None:
        self.lm = lm
        self.generates: list[tuple[dict, int]] = []  # inputs, new tokens
        self.choices: list[tuple[dict, list[str]]] = []
        self.first_text_passes = 0  # choice passes made before the first text

    def __enter__(self):
        model, recorder = self.lm.model, self
        self._generate = model.generate

        def generate(**kwargs):
            out = recorder._generate(**kwargs)
            inputs = {k: v for k, v in kwargs.items() if k in ("input_ids", "attention_mask",
                                                               "pixel_values",
                                                               "pixel_attention_mask")}
            recorder.generates.append((inputs, int(out.shape[-1] - inputs["input_ids"].shape[-1])))
            return out

        model.generate = generate
        self._choice = choices_module.choice_probabilities

        def choice(lm, inputs, candidates, **kwargs):
            recorder.choices.append((dict(inputs), list(candidates)))
            return recorder._choice(lm, inputs, candidates, **kwargs)

        for module in (emotion_module, vlm_score_module):
            module.choice_probabilities = choice
        return self

    def __exit__(self, *exc) -> None:
        del self.lm.model.generate  # the instance attribute; the class method returns
        for module in (emotion_module, vlm_score_module):
            module.choice_probabilities = self._choice


def vision_encode_seconds(lm, inputs: dict) -> float:
    """One uncached run of the vision encoder on ``inputs``' pixels."""
    owner = lm.model.model
    encode = owner.get_image_features.__wrapped__  # past the per-critique cache
    with torch.inference_mode():
        start = time.perf_counter()
        encode(inputs["pixel_values"], inputs.get("pixel_attention_mask"))
        return time.perf_counter() - start


def bare_seconds(lm, recorder: PassRecorder) -> tuple[float, float, float]:
    """(vision encode, passes up to the first text, all passes) replayed as plain calls.
    The encoder's cache stays primed, so the encode is counted once, on its own."""
    first_inputs = (recorder.choices or recorder.generates)[0][0]
    vision = vision_encode_seconds(lm, first_inputs)
    with torch.inference_mode():
        choice_times = []
        for inputs, candidates in recorder.choices:
            start = time.perf_counter()
            recorder._choice(lm, dict(inputs), candidates)
            choice_times.append(time.perf_counter() - start)
        generate_times, first_token = [], None
        for inputs, tokens in recorder.generates:
            if first_token is None:
                start = time.perf_counter()
                lm.model.generate(**inputs, max_new_tokens=1, do_sample=False)
                first_token = time.perf_counter() - start
            start = time.perf_counter()
            lm.model.generate(**inputs, max_new_tokens=max(tokens, 1),
                              min_new_tokens=max(tokens, 1), do_sample=False)
            generate_times.append(time.perf_counter() - start)
    before_first = sum(choice_times[: recorder.first_text_passes])
    return vision, vision + before_first + (first_token or 0.0), \
        vision + sum(choice_times) + sum(generate_times)


def run_critique(folder: Path, analysis) -> dict:
    start = time.perf_counter()
    lm = load_language_model(folder, device="cpu")
    loaded = time.perf_counter() - start
    request = CritiqueRequest(model=str(folder), device="cpu")
    with PassRecorder(lm) as recorder:
        start = time.perf_counter()
        first = None
        events = []
        for event in stream_critique(analysis, request):
            events.append(event)
            if event.kind == "text" and first is None:
                first = time.perf_counter() - start
                recorder.first_text_passes = len(recorder.choices)
        whole = time.perf_counter() - start
    notices = [e.text for e in events if e.kind == "notice"]
    failed = [n for n in notices if "failed" in n or "rule engine" in n or "could not" in n]
    if failed or events[-1].kind != "done":
        sys.exit(f"the critique did not complete with the model: {failed or events[-1]}")
    vision, bare_first, bare_whole = bare_seconds(lm, recorder)
    tokens = sum(n for _, n in recorder.generates)
    return {"loaded": loaded, "first": first, "whole": whole, "vision": vision,
            "bare_first": bare_first, "bare_whole": bare_whole, "tokens": tokens,
            "passes": len(recorder.generates) + len(recorder.choices),
            "encodes": lm.model.model.get_image_features.feature_cache.computed, "lm": lm}


def tiled_encode_seconds(lm, photo_pixels) -> tuple[int, float]:
    """(views, seconds) of one vision encode with the processor's default tiling."""
    prompt = render_prompt(lm, [{"role": "user", "content": "Describe."}])
    inputs = model_inputs(lm, prompt, photo_pixels, tiling="full")
    return int(inputs["pixel_values"].shape[1]), vision_encode_seconds(lm, inputs)


def verdict(value: float, target: float) -> str:
    return "meets" if value <= target else "MISSES"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None,
                        help="folder to build the models in (kept; default: a temporary one)")
    parser.add_argument("--photo", type=Path, default=None)
    parser.add_argument("--no-tiles", action="store_true",
                        help="skip the reference encode of the processor's 13 default views")
    parser.add_argument("--500m", dest="larger", action="store_true",
                        help="SmolVLM-500M (reconstructed config) instead of the 256M")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="critique-real-size-"))
    work.mkdir(parents=True, exist_ok=True)
    vlm_name = "SmolVLM-500M-Instruct" if args.larger else "SmolVLM-256M-Instruct"
    vlm_folder, depth_folder = build_models(work, vlm_name)
    photo = photo_1280(args.photo)
    analysis = analyze(photo, depth=False)
    height, width = analysis.photo.pixels.shape[:2]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; photo {width}x{height}")

    result = run_critique(vlm_folder, analysis)
    print(f"{vlm_name} (real size, random weights): loaded in {result['loaded']:.1f} s; "
          f"{result['passes']} passes, {result['tokens']} tokens written, "
          f"photo encoded {result['encodes']}x (one 512 px view: {result['vision']:.1f} s)")
    if args.larger:
        print("  (the targets are for the default critic, SmolVLM-256M)")
    for key, label in (("first", "first critique text"), ("whole", "whole critique")):
        bare = result[f"bare_{key}"]
        print(f"  {label:<20} {result[key]:6.1f} s   bare passes {bare:6.1f} s   "
              f"ratio {result[key] / bare:4.2f}   target <= {TARGETS[key]:g} s: "
              f"{verdict(result[key], TARGETS[key])}")

    depth = time_depth(depth_folder, photo)
    bare_depth = time_bare_transformers(depth_folder, photo)
    print(f"  {'depth map':<20} {depth:6.1f} s   bare pass   {bare_depth:6.1f} s   "
          f"ratio {depth / bare_depth:4.2f}   target <= {TARGETS['depth']:g} s: "
          f"{verdict(depth, TARGETS['depth'])}")

    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    from critique_app.core.maps.depth import load_depth_model

    weights_gb = sum(p.numel() * p.element_size() for model in
                     (result["lm"].model, load_depth_model(depth_folder).model)
                     for p in model.parameters()) / 2**30
    print(f"  {'peak RSS':<20} {rss_gb:6.2f} GB  weights    {weights_gb:6.2f} GB   "
          f"ratio {rss_gb / weights_gb:4.2f}   target <= {TARGETS['rss_gb']:g} GB: "
          f"{verdict(rss_gb, TARGETS['rss_gb'])}")

    if not args.no_tiles:
        views, seconds = tiled_encode_seconds(result["lm"], analysis.photo.pixels)
        print(f"reference: the processor's default tiling, {views} views: one encode "
              f"{seconds:.1f} s ({seconds / result['vision']:.1f}x one view), paid by each of "
              f"the {result['passes']} passes before the photo was encoded once")


if __name__ == "__main__":
    main()
