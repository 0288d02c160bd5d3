"""Record the visuals and their audio to one MP4: H.264 video and AAC audio, in sync, crash-safe.

Both offline renders (frames at a steady rate) and live sets (frames whenever the generator
finishes one, so at irregular times) go through here. Video timestamps use a 1/90000 s time base,
fine enough for any frame timing; audio timestamps count samples. Both clocks start at 0 = the first
audio sample written, which is what keeps picture and sound together.

The file is a fragmented MP4: an empty `moov` up front and a self-describing fragment every
`fragment_seconds` (and at every keyframe), each flushed to disk as soon as it is written. A
performance that ends in a crash, a power cut or a killed process therefore still leaves a playable
file holding everything up to the last fragment, instead of the unreadable file a plain MP4 without
its trailing index would be.
"""

from __future__ import annotations

import math
import threading
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from engine.errors import VisualError
from engine.visual.frame_size import check_frame_size

VIDEO_TIME_BASE = Fraction(1, 90000)  # the MPEG clock: exact for 24/25/30/50/60 fps, sub-ms for any other
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
# BT.709 tags (libavutil enum values) and the same matrix for the RGB -> YUV conversion, so players
# do not have to guess how to turn the pixels back into the colours that were rendered.
_BT709 = 1
_LIMITED_RANGE = 1


class VideoRecorder:
    """An MP4 writer: `write_frame` and `write_audio` in any order and block sizes, then `close`.

    Safe to call from two threads (e.g. frames from the visual loop, audio from an audio tap): one
    lock serialises encoding and muxing.
    """

    def __init__(self, path: Path, width: int, height: int, fps: float, *, samplerate: int = 48000,
                 channels: int = 2, crf: int = 20, preset: str = "veryfast", keyframe_seconds: float = 1.0,
                 fragment_seconds: float = 0.5) -> None:
        """`channels` 0 records video only. `keyframe_seconds` bounds seeking cost; `fragment_seconds`
        bounds how much a crash can lose (plus the few frames inside the encoder)."""
        self.path = Path(path)
        check_frame_size(width, height)
        if not isinstance(fps, int | float) or not math.isfinite(fps) or not 0 < fps <= 1000:
            raise VisualError(f"fps must be a number above 0 and at most 1000, got {fps!r}")
        _check_int("samplerate", samplerate, 8000, 192000)
        _check_int("channels", channels, 0, 2)
        _check_int("crf", crf, 0, 51)
        if preset not in X264_PRESETS:
            raise VisualError(f"preset must be one of {', '.join(X264_PRESETS)}, got {preset!r}")
        for name, value in (("keyframe_seconds", keyframe_seconds), ("fragment_seconds", fragment_seconds)):
            if not isinstance(value, int | float) or not 0 < value <= 60:
                raise VisualError(f"{name} must be above 0 and at most 60 seconds, got {value!r}")
        if self.path.is_dir():
            raise VisualError(f"path {self.path}: is a folder, expected a file name")
        if self.path.suffix.lower() not in (".mp4", ".m4v", ".mov"):
            raise VisualError(f"path {self.path}: the recorder writes MP4; use a .mp4 (or .m4v, .mov) name")
        if not self.path.parent.is_dir():
            raise VisualError(f"path {self.path}: folder {self.path.parent} does not exist")

        self.width, self.height, self.fps = int(width), int(height), float(fps)
        self.samplerate, self.channels = int(samplerate), int(channels)
        self.frames_written = 0
        self.frames_dropped = 0  # frames whose timestamp did not come after the previous one
        self._samples_written = 0
        self._last_pts = -1
        self._anchor = (0.0, -1)  # (time of the last timed frame, frames since): untimed frames follow it
        self._pending = np.zeros((self.channels, 0), dtype=np.float32)  # audio short of one codec frame
        self._lock = threading.Lock()
        self._closed = False

        try:
            self._container = av.open(str(self.path), mode="w", format="mp4", container_options={
                "movflags": "frag_keyframe+empty_moov+default_base_moof",
                "frag_duration": str(int(fragment_seconds * 1_000_000)),
                "flush_packets": "1",  # each fragment reaches the disk when written, not 32 KiB later
                # A stream that falls silent (audio stopped) holds the other back at most this long.
                "max_interleave_delta": "1000000",
            })
        except (OSError, av.error.FFmpegError) as exc:
            raise VisualError(f"path {self.path}: cannot open for writing: {exc}") from None
        try:
            self._video = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001),
                                                     # No B-frames: with them the first decode time is
                                                     # negative and a fragmented file (no edit list)
                                                     # shows every picture two frames late.
                                                     options={"preset": preset, "crf": str(crf), "bf": "0"})
            ctx = self._video.codec_context
            ctx.width, ctx.height, ctx.pix_fmt = self.width, self.height, "yuv420p"
            ctx.time_base = VIDEO_TIME_BASE
            self._video.time_base = VIDEO_TIME_BASE
            ctx.gop_size = max(1, round(keyframe_seconds * self.fps))
            ctx.colorspace = ctx.color_primaries = ctx.color_trc = _BT709
            ctx.color_range = _LIMITED_RANGE
            self._audio = None
            self._priming = 0  # the AAC encoder's leading silence, in samples (see _aac_priming)
            if self.channels:
                self._audio = self._container.add_stream("aac", rate=self.samplerate)
                self._audio.codec_context.layout = "stereo" if self.channels == 2 else "mono"
                self._audio.codec_context.bit_rate = 96_000 * self.channels
                self._audio.time_base = Fraction(1, self.samplerate)
                self._priming = _aac_priming(self.samplerate, self.channels)
            # Open the codecs and write the header now: a bad path or setting fails here, not mid-set.
            self._container.start_encoding()
        except OSError as exc:  # the file itself is opened here, by the header
            self._container.close()
            raise VisualError(f"path {self.path}: cannot open for writing: {exc}") from None
        except (ValueError, av.error.FFmpegError) as exc:
            self._container.close()
            raise VisualError(f"path {self.path}: cannot start the H.264/AAC encoders: {exc}") from None
        self._frame_size = self._audio.codec_context.frame_size if self._audio else 0
        self._video_offset = round(Fraction(self._priming, self.samplerate) / VIDEO_TIME_BASE)
        self._layout = "stereo" if self.channels == 2 else "mono"

    # --- writing -----------------------------------------------------------------------------
    def write_frame(self, rgb: np.ndarray, time_seconds: float | None = None) -> bool:
        """Encode one uint8 (height, width, 3) frame. `time_seconds`: when it is shown, on the audio's
        clock (0 = the first audio sample); None: one frame period after the previous frame.
        Returns False when the frame was dropped because its time does not come after the previous."""
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8:
            got = rgb.dtype if isinstance(rgb, np.ndarray) else type(rgb).__name__
            raise VisualError(f"rgb must be a uint8 numpy array, got {got}")
        if rgb.shape != (self.height, self.width, 3):
            raise VisualError(f"rgb must have shape ({self.height}, {self.width}, 3), got {rgb.shape}")
        if time_seconds is not None and not math.isfinite(time_seconds):
            raise VisualError(f"time_seconds must be a finite number of seconds or None, got {time_seconds!r}")
        with self._lock:
            self._check_open()
            if time_seconds is None:
                anchor_time, since = self._anchor[0], self._anchor[1] + 1
                seconds = anchor_time + since / self.fps  # from the anchor, so steady rates never drift
                self._anchor = (anchor_time, since)
            else:
                seconds = float(time_seconds)
                self._anchor = (seconds, 0)
            pts = round(seconds / VIDEO_TIME_BASE)
            if pts <= self._last_pts:
                self.frames_dropped += 1
                return False
            self._last_pts = pts
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame = frame.reformat(format="yuv420p", dst_colorspace=_BT709, dst_color_range=_LIMITED_RANGE)
            # The first picture goes at 0 and is held until the second: a fragmented file cannot say
            # that a track starts later, and the muxer would otherwise pull the whole track back.
            frame.pts = pts + self._video_offset if self.frames_written else 0
            frame.time_base = VIDEO_TIME_BASE
            self._mux(self._video.encode(frame))
            self.frames_written += 1
        return True

    def write_audio(self, samples: np.ndarray) -> None:
        """Append float32 audio, (n, channels) or (n,) (mono, copied to every channel), any n."""
        if self._audio is None:
            raise VisualError("write_audio: this recorder was made with channels=0 (video only)")
        if not isinstance(samples, np.ndarray) or samples.dtype != np.float32:
            got = samples.dtype if isinstance(samples, np.ndarray) else type(samples).__name__
            raise VisualError(f"samples must be a float32 numpy array, got {got}")
        if samples.ndim == 1:
            planar = np.broadcast_to(samples, (self.channels, samples.shape[0]))
        elif samples.ndim == 2 and samples.shape[1] == self.channels:
            planar = samples.T
        else:
            raise VisualError(f"samples must have shape (n, {self.channels}) or (n,), got {samples.shape}")
        with self._lock:
            self._check_open()
            pending = np.concatenate([self._pending, planar], axis=1)
            whole = pending.shape[1] - pending.shape[1] % self._frame_size
            for start in range(0, whole, self._frame_size):
                self._encode_audio(pending[:, start:start + self._frame_size])
            self._pending = np.ascontiguousarray(pending[:, whole:])

    @property
    def audio_seconds(self) -> float:
        """Audio handed to the encoder so far (the part short of one 1024-sample frame waits)."""
        return self._samples_written / self.samplerate

    @property
    def priming_seconds(self) -> float:
        """How much later than written both picture and sound appear in the file (the AAC encoder's
        leading silence; 0 without audio). A player's clock reads time_seconds + this."""
        return self._priming / self.samplerate

    def close(self) -> None:
        """Flush both encoders and finish the file. Safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._audio is not None:
                    if self._pending.shape[1]:
                        self._encode_audio(self._pending)  # AAC accepts a short last frame
                    self._mux_audio(self._audio.encode(None))
                self._mux(self._video.encode(None))
            finally:
                try:
                    self._container.close()
                except av.error.FFmpegError as exc:
                    raise VisualError(f"path {self.path}: cannot finish the recording: {exc}") from None

    def __enter__(self) -> VideoRecorder:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- internals ---------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise VisualError(f"recorder for {self.path} is closed; make a new one to record again")

    def _encode_audio(self, planar: np.ndarray) -> None:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar, dtype=np.float32), format="fltp",
                                           layout=self._layout)
        frame.sample_rate = self.samplerate
        frame.pts, frame.time_base = self._samples_written, Fraction(1, self.samplerate)
        self._samples_written += planar.shape[1]
        assert self._audio is not None
        self._mux_audio(self._audio.encode(frame))

    def _mux_audio(self, packets: list[av.Packet]) -> None:
        for packet in packets:  # priming moved from negative times to [0, priming): see _aac_priming
            packet.pts += self._priming
            packet.dts += self._priming
        self._mux(packets)

    def _mux(self, packets: list[av.Packet]) -> None:
        try:
            self._container.mux(packets)
        except (OSError, av.error.FFmpegError) as exc:
            raise VisualError(f"path {self.path}: writing the recording failed: {exc}") from None


def _aac_priming(samplerate: int, channels: int) -> int:
    """Samples of silence the AAC encoder puts before the first real sample (1024 for FFmpeg's).

    The encoder stamps them with negative times. A normal MP4 hides them with an edit list in the
    index written at the end; a fragmented file's index is written first, so players play them.
    Left negative, the muxer would shift every track by whichever stream's first packet happened
    to reach it first, so sync would depend on arrival order. The recorder instead moves the
    priming to [0, priming) and delays every picture by the same amount: the file starts with
    ~21 ms of silence and the first picture held over it, and sound and picture line up exactly.
    Measured, not assumed, on a throwaway encoder, in case the encoder changes.
    """
    ctx = av.CodecContext.create("aac", "w")
    ctx.sample_rate, ctx.layout, ctx.format = samplerate, "stereo" if channels == 2 else "mono", "fltp"
    ctx.time_base = Fraction(1, samplerate)
    frame = av.AudioFrame.from_ndarray(np.zeros((channels, ctx.frame_size or 1024), dtype=np.float32),
                                       format="fltp", layout=ctx.layout.name)
    frame.sample_rate, frame.pts = samplerate, 0
    packets = ctx.encode(frame) + ctx.encode(None)
    return max(0, -min(int(packet.pts) for packet in packets)) if packets else 0


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not low <= value <= high:
        raise VisualError(f"{name} must be an integer from {low} to {high}, got {value!r}")
