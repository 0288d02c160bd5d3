"""Command line: `live`, `console`, `render`, `train`, `explore`, `visuals`, `models inspect`, `params`, `devices`."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path

from engine.bounded_log import install_bounded_logging
from engine.console import cli_console
from engine.errors import EngineError, FrameSizeError, ParamError
from engine.models.default import DEFAULT_MODEL
from engine.params.table import DEFAULT_GENERATOR, DEFAULT_THEME, GENERATOR_NAMES
from engine.session.config import SessionConfig
from engine.stop_signal import sigterm_as_ctrl_c
from engine.visual.frame_size import DEFAULT_FRAME_SIZE, check_frame_size

err_console = cli_console(stderr=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run_engine.py", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    models = sub.add_parser("models", help="inspect nn~-compatible model files")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    inspect = models_sub.add_parser("inspect", help="print a model's methods, attributes and rates")
    inspect.add_argument("path")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")

    render = sub.add_parser("render", help="render the engine offline to a WAV file")
    render.add_argument("--seconds", type=float, help="length of the render in seconds (default with --input: "
                        "the input's length)")
    render.add_argument("--out", type=Path, required=True, help="output WAV file")
    render.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="nn~-compatible TorchScript model")
    render.add_argument("--scene", help="scene name from presets/scenes (or a path to a scene TOML)")
    render.add_argument("--set", dest="sets", action="append", default=[], metavar="ADDRESS=VALUE",
                        help="set a parameter before rendering, e.g. --set /rave/energy=1.4 (repeatable)")
    render.add_argument("--automation", type=Path, help="TOML file of timed parameter changes and ramps")
    render.add_argument("--seed", type=int, default=0, help="random seed: same arguments and seed, same file")
    render.add_argument("--reference", dest="references", action="append", default=[], type=Path,
                        metavar="AUDIO", help="audio file encoded as latent source ref1 (a second one: ref2)")
    render.add_argument("--samplerate", type=int, help="output sample rate (default: the model's)")
    render.add_argument("--input", type=Path, metavar="AUDIO",
                        help="play the model from this file as its input (source A; the dry signal of /rave/drywet)")
    render.add_argument("--method", help="model method to play: decode (default) or an audio method, e.g. forward")
    render.add_argument("--no-master", dest="master", action="store_false",
                        help="write the model's own output: no levelling, trim or limiter (for a DAW that masters it)")
    render.add_argument("--frames-per-call", type=int, default=1, metavar="N",
                        help="latent frames per decode call (default 1; live chooses per model)")
    render.add_argument("--model-b", type=Path, metavar="PATH",
                        help="a second model beside --model, mixed in by /rave/model_mix (equal power)")
    render.add_argument("--codebook", type=Path, metavar="ATLAS",
                        help="codebook resynthesis: each latent frame becomes its nearest frames of this atlas")
    render.add_argument("--codebook-k", type=int, metavar="K",
                        help="atlas frames blended per latent frame (default 3; /rave/codebook_k)")
    _explore_parser(sub)

    live = sub.add_parser("live", help="play the engine in real time through PortAudio")
    live.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="nn~-compatible TorchScript model")
    live.add_argument("--scene", help="scene to start in")
    live.add_argument("--set", dest="sets", action="append", default=[], metavar="ADDRESS=VALUE")
    live.add_argument("--device", type=_device, help="output device name or index (see `devices`)")
    live.add_argument("--fallback-device", metavar="NAME",
                      help="device to play on while --device is gone (unplugged, its server down)")
    live.add_argument("--samplerate", type=int, help="device sample rate (default: the device's)")
    live.add_argument("--blocksize", type=int, default=_session_default("blocksize"),
                      help="frames per audio callback (default %(default)s)")
    live.add_argument("--lookahead-blocks", type=int,
                      help="fixed blocks rendered ahead (default: adaptive, starting from the model's speed)")
    live.add_argument("--lookahead-min-ms", type=float, metavar="MS",
                      help="the adaptive lookahead never shrinks below this (default 40)")
    live.add_argument("--lookahead-max-ms", type=float, metavar="MS",
                      help="the adaptive lookahead never grows beyond this (default 500)")
    live.add_argument("--frames-per-call", type=int, metavar="N",
                      help="latent frames per decode call, 1-16 (default: measured at load)")
    live.add_argument("--decode-threads", type=int, metavar="N",
                      help="torch threads of the render thread's decodes, 1-8 (default: measured at load)")
    live.add_argument("--input", action="store_true", help="open the input too: /rave/source/a=input encodes it")
    live.add_argument("--method", help="model method to play: decode (default) or an audio method on the input")
    live.add_argument("--seconds", type=float, help="stop after this many seconds")
    live.add_argument("--report", type=Path, help="write a JSON report at exit")
    live.add_argument("--seed", type=int, default=0)
    live.add_argument("--python-callback", action="store_true",
                      help="use a plain Python sounddevice callback instead of rtmixer's C callback")
    live.add_argument("--allow-model-dir", dest="allowed_model_dirs", action="append", default=[], type=Path,
                      help="a folder outside models/ from which /rave/model, /rave/model/b and "
                      "/rave/reference/a|b may load files")
    live.add_argument("--osc-host", default=_session_default("osc_host"),
                      help="OSC listen address (default %(default)s; 0.0.0.0 for the network, with --osc-allow)")
    live.add_argument("--osc-port", type=int, default=_session_default("osc_port"),
                      help="OSC UDP port (default %(default)s; 0 disables OSC)")
    live.add_argument("--osc-allow", action="append", default=[], metavar="IP",
                      help="only hear OSC from this IP (repeatable); others are dropped and counted")
    live.add_argument("--osc-map", metavar="NAME", help="controller map with [[osc]] routes, e.g. touchosc")
    live.add_argument("--midi-in", metavar="NAME", help="MIDI input port (name substring; JACK MIDI without ALSA)")
    live.add_argument("--midi-out", metavar="NAME", help="MIDI output port for fader/LED feedback and clock out")
    live.add_argument("--midi-virtual", action="store_true", help="open virtual MIDI ports rave-engine-in/-out")
    live.add_argument("--midi-map", default=_session_default("midi_map"), metavar="NAME",
                      help="controller map in presets/controllers (generic16, nanokontrol2, midimix, learned)")
    live.add_argument("--midi-clock-in", action="store_true", help="follow incoming MIDI clock into /tempo/bpm")
    live.add_argument("--midi-clock-out", action="store_true", help="send MIDI clock at /tempo/bpm")
    live.add_argument("--link", action="store_true",
                      help="join Ableton Link: /tempo/bpm, the beat grid and /transport/play follow and lead the session")

    live.add_argument("--visuals", action="store_true", help="start the visual process (frames follow the music)")
    live.add_argument("--window", action="store_true", help="show the visuals in a window (implies --visuals)")
    live.add_argument("--visual-screen", type=int, metavar="N", help="put the visuals window on screen N")
    live.add_argument("--fullscreen", action="store_true", help="visuals window fullscreen (F toggles, Esc leaves)")
    live.add_argument("--no-visual-spare", action="store_true",
                      help="keep no loaded spare visual process (saves ~350 MB; a crash then restarts cold, 3-4 s)")
    live.add_argument("--record", type=Path, metavar="FILE.mp4",
                      help="record the visuals with the engine's audio muxed in sync (implies --visuals)")
    live.add_argument("--console", action="store_true",
                      help="open the performer console beside the engine (its own process, over OSC)")
    _video_output_options(live)
    live.add_argument("--visual-remote", action="append", default=[], metavar="HOST:PORT",
                      help="stream the visuals' feed to a node started with `visuals serve` (OSC/UDP; repeatable)")
    _visual_options(live)

    console = sub.add_parser("console", help="the performer console for a playing engine (an OSC client)")
    console.add_argument("--connect", default=f"127.0.0.1:{_session_default('osc_port')}", metavar="HOST:PORT",
                         help="the engine's OSC address (default %(default)s)")
    console.add_argument("--screenshot", type=Path, metavar="FILE.png", help="save the window to a PNG and exit")
    console.add_argument("--seconds", type=float, help="close after S seconds (with --screenshot: default 3)")
    console.add_argument("--follow-pid", type=int, metavar="PID", help=argparse.SUPPRESS)  # live --console: close
    # with the engine that opened it, however it ended

    sub.add_parser("devices", help="list PortAudio host APIs and devices")

    visuals = sub.add_parser("visuals", help="offline visuals and themes")
    visuals_sub = visuals.add_subparsers(dest="visuals_command", required=True)
    vrender = visuals_sub.add_parser("render", help="render an audio file to an MP4 whose images follow it")
    vrender.add_argument("--audio", type=Path, required=True, help="audio file (wav, flac, ogg, mp3)")
    vrender.add_argument("--out", type=Path, required=True, help="output MP4 file")
    vrender.add_argument("--seconds", type=float, help="render only the first S seconds")
    vrender.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    vrender.add_argument("--set", dest="sets", action="append", default=[], metavar="ADDRESS=VALUE",
                         help="set a visual parameter, e.g. --set /visual/reactivity=1.5 (repeatable)")
    vrender.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                         help="model whose encoder turns the audio into latents for the images")
    vrender.add_argument("--seed", type=int, default=0)
    _visual_options(vrender)
    visuals_sub.add_parser("themes", help="list the themes in presets/themes")
    _serve_parser(visuals_sub)

    _train_options(sub.add_parser("train", help="train our default architecture on a folder of recordings"))

    params = sub.add_parser("params", help="list every parameter address with its range and unit")
    params.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    params.add_argument("--markdown", action="store_true", help="print the README's address table")
    return parser


def _explore_parser(sub: argparse._SubParsersAction) -> None:
    explore = sub.add_parser("explore", help="map a collection into an atlas (explore --collection DIR --out "
                             "ATLAS.npz); explore show / play")
    explore.add_argument("--collection", type=Path, metavar="DIR", help="folder of audio files (searched recursively)")
    explore.add_argument("--out", type=Path, metavar="ATLAS.npz", help="atlas file to write")
    explore.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model whose encoder maps the collection")
    explore.add_argument("--clusters", type=int, default=8, metavar="K", help="k-means clusters (default 8)")
    explore.add_argument("--chunk-seconds", type=float, default=2.0, metavar="S", help="chunk length (default 2)")
    explore.add_argument("--map", dest="map_method", choices=("auto", "umap", "pca"), default="auto",
                         help="3D map: UMAP where umap-learn is installed (auto), or PCA")
    explore.add_argument("--seed", type=int, default=0)
    explore_sub = explore.add_subparsers(dest="explore_command")
    show = explore_sub.add_parser("show", help="summarise an atlas: clusters, descriptors, typical chunks")
    show.add_argument("atlas", type=Path)
    show.add_argument("--json", action="store_true", help="print one JSON object")
    play = explore_sub.add_parser("play", help="render a cluster of an atlas to a WAV file")
    play.add_argument("atlas", type=Path)
    play.add_argument("--cluster", type=int, required=True, metavar="N")
    play.add_argument("--out", type=Path, required=True, help="output WAV file")
    play.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the model the atlas was made with")
    play.add_argument("--seconds", type=float, help="length (default: the cluster's, at most 30 s)")
    play.add_argument("--seed", type=int, default=0)


def _explore(args: argparse.Namespace) -> int:
    if args.explore_command == "show":
        from engine.explore.show import show

        show(args.atlas, cli_console(), as_json=args.json)
        return 0
    if args.explore_command == "play":
        from engine.explore.play import play_cluster

        played = play_cluster(args.atlas, args.cluster, args.out, args.model, seconds=args.seconds,
                              seed=args.seed, progress=sys.stderr.isatty())
        err_console.print(f"wrote {played.out} (cluster {args.cluster}: {played.chunks} chunks, "
                          f"{played.seconds:.2f} s, {played.rate} Hz)", highlight=False)
        if played.note:
            err_console.print(f"[yellow]note:[/] {played.note}", highlight=False)
        return 0
    from engine.explore.build import ExploreRequest, build_atlas

    if args.collection is None or args.out is None:
        raise ParamError("explore needs --collection DIR and --out ATLAS.npz (or: explore show ATLAS, "
                         "explore play ATLAS --cluster N --out F.wav)")
    result = build_atlas(ExploreRequest(collection=args.collection, out=args.out, model=args.model,
                                        clusters=args.clusters, chunk_seconds=args.chunk_seconds, seed=args.seed,
                                        map_method=args.map_method, progress=sys.stderr.isatty()))
    atlas = result.atlas
    err_console.print(f"wrote {args.out}: {atlas.chunks} chunks from {len(atlas.files)} files "
                      f"({result.audio_seconds:.1f} s of audio), {atlas.n_clusters} clusters, map {atlas.map_method}, "
                      f"in {result.wall_seconds:.1f} s", highlight=False)
    for line in atlas.skipped:
        err_console.print(f"[yellow]skipped:[/] {line}", highlight=False)
    return 0


def _visual_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--theme", default=DEFAULT_THEME, help="theme in presets/themes (or a TOML path)")
    parser.add_argument("--generator", choices=GENERATOR_NAMES, default=DEFAULT_GENERATOR,
                        help="cppn: weight-free, any CPU (default); diffusion: local diffusers weights; "
                             "texture: a CPPN latent field through a TAESD-family tiny decoder (--visual-vae FILE)")
    parser.add_argument("--size", type=_size, default=DEFAULT_FRAME_SIZE, metavar="WxH",
                        help="frame size (default {}x{})".format(*DEFAULT_FRAME_SIZE))
    parser.add_argument("--visual-model", type=Path, metavar="DIR",
                        help="diffusion: a local diffusers pipeline folder (sd-turbo, sdxl-turbo...)")
    parser.add_argument("--visual-vae", type=Path, metavar="PATH",
                        help="diffusion: a local TAESD-style tiny VAE folder; texture: a TAESD-family decoder .pth")


def _video_output_options(parser: argparse.ArgumentParser) -> None:
    """Video out to other software (engine/visual/outputs): each implies --visuals."""
    parser.add_argument("--ndi", metavar="NAME", help="send the visuals as the NDI source NAME (implies --visuals)")
    parser.add_argument("--ndi-size", type=_size, default=DEFAULT_FRAME_SIZE, metavar="WxH",
                        help="NDI frame size, independent of --size and the window (default 512x512)")
    parser.add_argument("--ndi-fps", type=float, metavar="N",
                        help="NDI frames a second: the newest frame each tick, the last one again when none "
                        "is new (default: every frame made)")
    parser.add_argument("--vcam", action="store_true",
                        help="show the visuals as a virtual camera (v4l2loopback, OBS; implies --visuals)")
    parser.add_argument("--vcam-device", metavar="PATH", help="the loopback device, e.g. /dev/video10 (default: the first free one)")
    parser.add_argument("--vcam-size", type=_size, default=DEFAULT_FRAME_SIZE, metavar="WxH",
                        help="virtual camera frame size (default 512x512)")
    parser.add_argument("--vcam-fps", type=float, metavar="N",
                        help="virtual camera frames a second, repeating the last frame between new ones "
                             "(default: every frame made)")
    parser.add_argument("--syphon", metavar="NAME", help="macOS: share the visuals as the Syphon server NAME (untested)")
    parser.add_argument("--spout", metavar="NAME", help="Windows: share the visuals as the Spout sender NAME (untested)")
def _serve_parser(visuals_sub: argparse._SubParsersAction) -> None:
    serve = visuals_sub.add_parser("serve", help="a remote visual node: the visual process for an engine on "
                                   "another host (live --visual-remote HOST:PORT)")
    serve.add_argument("--listen", default="0.0.0.0:9100", metavar="HOST:PORT",
                       help="where the engine's stream arrives (default %(default)s)")
    serve.add_argument("--window", action="store_true", help="show the frames in a window")
    serve.add_argument("--visual-screen", type=int, metavar="N", help="put the window on screen N")
    serve.add_argument("--fullscreen", action="store_true", help="window fullscreen (F toggles, Esc leaves)")
    serve.add_argument("--record", type=Path, metavar="FILE.mp4", help="record the frames (video only, "
                       "timed on the engine's timeline)")
    serve.add_argument("--ndi", metavar="NAME", help="send the frames as an NDI source NAME (the ndi extra)")
    serve.add_argument("--playout-ms", type=float, default=0.0, metavar="MS",
                       help="least delay after a row's audio is heard before it is shown (default 0; it "
                       "grows by itself when rows arrive late)")
    serve.add_argument("--seconds", type=float, help="stop after S seconds")
    serve.add_argument("--report", type=Path, help="write the node's figures as JSON at exit")
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument("--no-visual-spare", action="store_true", help="keep no loaded spare visual process")
    _visual_options(serve)


def _serve(args: argparse.Namespace) -> int:
    from engine.remote.node import NodeConfig
    from engine.remote.protocol import parse_host_port
    from engine.remote.serve import ServeRequest, serve

    try:
        host, port = parse_host_port(args.listen, "--listen")
    except ValueError as exc:
        raise ParamError(str(exc)) from None
    if args.seconds is not None and args.seconds <= 0:
        raise ParamError(f"--seconds must be above 0, got {args.seconds}")
    if not 0 <= args.playout_ms <= 500:
        raise ParamError(f"--playout-ms must be from 0 to 500, got {args.playout_ms}")
    if args.record is not None:
        from engine.visual.recorder import VideoRecorder

        VideoRecorder(args.record, *args.size, 30.0, channels=0).close()  # a bad path fails now, in one line
    config = NodeConfig(host=host or "0.0.0.0", port=port, generator=args.generator, theme=args.theme,
                        size=args.size, seed=args.seed, generator_options=_generator_options(args),
                        spare=not args.no_visual_spare, playout_floor_ms=args.playout_ms)
    try:
        stats = serve(ServeRequest(node=config, window=args.window, screen=args.visual_screen,
                                   fullscreen=args.fullscreen, record=args.record, ndi=args.ndi,
                                   seconds=args.seconds, report=args.report))
    except ValueError as exc:
        raise ParamError(str(exc)) from None
    _say_last(f"visual node: {stats['frames']} frames, {stats['rows_shown']} rows shown of {stats['rows']} "
              f"received ({stats['rows_lost']} lost, {stats['late_rows']} late), {stats['sessions']} engine sessions")
    return 0


def _train_options(train: argparse.ArgumentParser) -> None:
    train.add_argument("--data", type=Path, required=True, metavar="DIR",
                       help="folder of recordings (wav, flac, ogg, mp3, aiff; read recursively), at least 30 s")
    train.add_argument("--out", type=Path, required=True, metavar="MODEL.ts", help="the model file to write")
    train.add_argument("--minutes", type=float, help="training time (counted across resumes; default 60 "
                       "without --steps)")
    train.add_argument("--steps", type=int, help="training steps (the learning rate decays over them; the same "
                       "seed and steps give the same weights)")
    train.add_argument("--resume", action="store_true", help="continue from the checkpoint beside --out")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--samplerate", type=int, default=48000, metavar="R", help="the model's rate (default 48000)")
    train.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                       help="auto: cuda where present, else cpu")
    train.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    train.add_argument("--init", type=Path, metavar="MODEL.ts",
                       help="start from an export's weights, e.g. models/default.ts (fine-tuning)")
    train.add_argument("--eval-dir", type=Path, metavar="DIR",
                       help="recordings kept out of training: the card reports the reconstruction score on them")
    train.add_argument("--checkpoint-minutes", type=float, default=5.0, help="minutes between checkpoints")
    train.add_argument("--batch", type=int, default=8, help="examples per step (per process)")
    train.add_argument("--clip-frames", type=int, default=12, help="latent frames (x2048 samples) per example")
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--pool", type=int, default=256, help="excerpts in the training pool (one renewed per step)")
    train.add_argument("--pool-seconds", type=float, default=2.048, help="length of each pool excerpt")
    train.add_argument("--model-config", type=json.loads, default={}, metavar="JSON",
                       help='DefaultVAE arguments, e.g. \'{"dec_channels": [96, 80, 64, 48]}\' for a lighter model')


def _train(args: argparse.Namespace) -> int:
    from engine.training.train_folder import FolderTrainRequest, train_folder

    minutes = args.minutes if args.minutes is not None or args.steps is not None else 60.0
    request = FolderTrainRequest(
        data=args.data, out=args.out, minutes=minutes, steps=args.steps, resume=args.resume, seed=args.seed,
        samplerate=args.samplerate, device=args.device, threads=args.threads, batch=args.batch,
        clip_frames=args.clip_frames, lr=args.lr, pool=args.pool, pool_seconds=args.pool_seconds,
        checkpoint_minutes=args.checkpoint_minutes, init=args.init, eval_dir=args.eval_dir,
        model_config=args.model_config)
    return train_folder(request, err_console)


def _session_default(field: str) -> object:
    """A live flag's default is the session config's own, so the two cannot disagree."""
    return SessionConfig.model_fields[field].default


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 512x512") from None
    try:
        return check_frame_size(w, h)
    except FrameSizeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _generator_options(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    """Options per generator from the weight flags, so a live switch hands each its own; the one
    chosen at start must have what it needs."""
    options: dict[str, dict[str, object]] = {}
    vae = args.visual_vae
    if args.visual_model is not None:
        options["diffusion"] = {"model_dir": str(args.visual_model),
                                "vae_dir": str(vae) if vae is not None and not vae.is_file() else None}
    if vae is not None and vae.is_file():
        options["texture"] = {"decoder": str(vae)}
    if args.generator == "diffusion" and "diffusion" not in options:
        raise ParamError("--generator diffusion needs --visual-model DIR: a local diffusers pipeline folder "
                         "(sd-turbo, sdxl-turbo...); nothing is downloaded")
    if args.generator == "texture" and "texture" not in options:
        raise ParamError("--generator texture needs --visual-vae FILE: a TAESD-family decoder (.pth)")
    return options


def _visuals(args: argparse.Namespace) -> int:
    if args.visuals_command == "themes":
        from engine.visual.themes import list_themes, load_theme

        for name in list_themes():
            print(f"{name:12} {load_theme(name).description}")
        return 0
    if args.visuals_command == "serve":
        return _serve(args)
    from engine.visual.offline_render import VisualRenderRequest, render_visuals

    width, height = args.size
    request = VisualRenderRequest(audio=args.audio, out=args.out, seconds=args.seconds, theme=args.theme,
                                  generator=args.generator, width=width, height=height, fps=args.fps,
                                  seed=args.seed, sets=args.sets, model=args.model,
                                  generator_options=_generator_options(args).get(args.generator, {}),
                                  progress=sys.stderr.isatty())
    result = render_visuals(request)
    err_console.print(f"wrote {result.out} ({result.frames} frames, {result.seconds:.2f} s at {args.fps:g} fps, "
                      f"{width}x{height}) in {result.wall_seconds:.1f} s "
                      f"({result.frames / max(result.wall_seconds, 1e-9):.1f} frames/s)", highlight=False)
    return 0


def _render(args: argparse.Namespace) -> int:
    from engine.render.offline import RenderRequest, render

    request = RenderRequest(seconds=args.seconds, out=args.out, model=args.model, scene=args.scene, sets=args.sets,
                            automation=args.automation, seed=args.seed, references=args.references,
                            samplerate=args.samplerate, input=args.input, method=args.method,
                            frames_per_call=args.frames_per_call, master=args.master, model_b=args.model_b,
                            codebook=args.codebook, codebook_k=args.codebook_k)
    result = render(request)
    seconds = result.audio.shape[0] / result.rate
    err_console.print(f"wrote {result.out} ({seconds:.2f} s, {result.rate} Hz, {result.audio.shape[1]} ch) "
                      f"in {result.wall_seconds:.2f} s ({seconds / max(result.wall_seconds, 1e-9):.0f}x real time), "
                      f"{result.stats['integrated_lufs']:.1f} LUFS integrated, "
                      f"true peak {result.stats['max_true_peak_db']:.1f} dBTP", highlight=False)
    if result.clipped_samples:
        err_console.print(f"[yellow]note:[/] {result.clipped_samples} samples were clipped at full scale")
    return 0


def _device(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _live(args: argparse.Namespace) -> int:
    from engine.session.session import LiveSession

    config = SessionConfig.checked(
        model=args.model, scene=args.scene, sets=args.sets, device=args.device,
        fallback_device=args.fallback_device, samplerate=args.samplerate,
        blocksize=args.blocksize, lookahead_blocks=args.lookahead_blocks, input=args.input, method=args.method,
        seconds=args.seconds,
        lookahead_min_ms=args.lookahead_min_ms, lookahead_max_ms=args.lookahead_max_ms,
        frames_per_call=args.frames_per_call, decode_threads=args.decode_threads,
        seed=args.seed, python_callback=args.python_callback, allowed_model_dirs=args.allowed_model_dirs,
        osc_host=args.osc_host, osc_port=args.osc_port or None, osc_allow=args.osc_allow, osc_map=args.osc_map,
        midi_in=args.midi_in, midi_out=args.midi_out, midi_virtual=args.midi_virtual, midi_map=args.midi_map,
        midi_clock_in=args.midi_clock_in, midi_clock_out=args.midi_clock_out, link=args.link, visuals=args.visuals,
        window=args.window, visual_screen=args.visual_screen, fullscreen=args.fullscreen, record=args.record,
        visual_theme=args.theme, visual_generator=args.generator, visual_size=args.size,
        visual_options=_generator_options(args), visual_spare=not args.no_visual_spare,
        ndi=args.ndi, ndi_size=args.ndi_size, ndi_fps=args.ndi_fps, vcam=args.vcam, vcam_device=args.vcam_device,
        vcam_size=args.vcam_size, vcam_fps=args.vcam_fps, syphon=args.syphon, spout=args.spout,
        visual_remote=args.visual_remote)
    if args.console and not config.osc_port:
        raise ParamError("--console talks to the engine over OSC: drop --osc-port 0")
    if args.link:
        from engine.control.link_session import load_link

        load_link()  # before the model loads: a missing binding is one line, at once
    session = LiveSession(config)
    console = None
    try:
        with sigterm_as_ctrl_c():  # a process manager's stop ends the set as cleanly as Ctrl-C
            session.start()
            if args.console:
                from engine.gui.launch import spawn_console

                console = spawn_console(config.osc_host, int(config.osc_port or 0))
            if args.window:
                session.run_with_window(args.seconds)
            else:
                session.run(args.seconds, status=sys.stderr.isatty())
    except KeyboardInterrupt:
        pass
    finally:
        if console is not None:
            from engine.gui.launch import stop_console

            stop_console(console)
        session.stop()
        if args.report:
            session.write_report(args.report)
    status = session.status()
    _say_last(f"played {status.seconds:.3f} s: {status.callbacks} callbacks, {status.underruns} underruns, "
              f"latency {status.latency['total_s'] * 1000:.1f} ms, {status.device['outages']} device outages")
    return 0


def _console(args: argparse.Namespace) -> int:
    from engine.gui.osc_link import parse_target

    try:
        host, port = parse_target(args.connect)
        host = socket.gethostbyname(host)
    except ValueError as exc:
        raise ParamError(str(exc)) from None
    except OSError as exc:
        raise ParamError(f"--connect {args.connect!r}: cannot resolve {host!r} ({exc})") from None
    if args.seconds is not None and args.seconds <= 0:
        raise ParamError(f"--seconds must be above 0, got {args.seconds}")
    from engine.gui.launch import lower_priority

    lower_priority()
    from engine.gui.app import run_console

    return run_console(host, port, screenshot=args.screenshot, seconds=args.seconds, follow_pid=args.follow_pid)


def _say_last(line: str) -> None:
    """The closing line of a live set, written without waiting: a stderr pipe that nobody reads and
    that is already full must not keep the engine from exiting."""
    try:
        os.set_blocking(2, False)
        try:
            os.write(2, (line + "\n").encode())
        finally:
            os.set_blocking(2, True)
    except OSError:  # full (BlockingIOError), closed, or not a file descriptor: the report has it all
        pass


def _params(args: argparse.Namespace) -> int:
    from engine.models.nn_tilde import NNModel
    from engine.params.docs import address_table

    model = NNModel.load(args.model)
    print(address_table(model.latent_size or 1, markdown=args.markdown))  # audio-method models: one inert dim
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Log lines go through a bounded queue: a stderr pipe nobody reads must never stall the control
    # threads (OSC, MIDI) that log bad input.
    log_writer = install_bounded_logging()
    try:
        return _command(args)
    finally:
        log_writer.stop(timeout=1.0)


def _command(args: argparse.Namespace) -> int:
    try:
        if args.command == "models" and args.models_command == "inspect":
            from engine.models.inspect import inspect_command

            return inspect_command(args.path, as_json=args.json)
        if args.command == "render":
            return _render(args)
        if args.command == "explore":
            return _explore(args)
        if args.command == "params":
            return _params(args)
        if args.command == "train":
            return _train(args)
        if args.command == "live":
            return _live(args)
        if args.command == "console":
            return _console(args)
        if args.command == "visuals":
            return _visuals(args)
        if args.command == "devices":
            from engine.audio.devices import print_devices

            return print_devices()
    except EngineError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
