"""What every graph does to a frame once it is sound at the output rate: the master stage, a last
guard against samples past full scale, and the analysis tap (only while something reads it)."""

from __future__ import annotations

import numpy as np

from engine.analysis.tap import AnalysisTap
from engine.latent.feature_mod import FeatureModBank
from engine.master.stage import MasterStage
from engine.params.store import Snapshot


class FrameEnd:
    """Mixed into RenderGraph and EffectGraph, which set these attributes."""

    master: MasterStage
    mastered: bool
    analysis: AnalysisTap
    analysis_active: bool
    mods: FeatureModBank
    clipped_samples: int
    _loudness_i: int
    _ceiling_i: int
    _gain_i: int

    def _end_frame(self, audio: np.ndarray, controls: np.ndarray, snapshot: Snapshot, started: float) -> np.ndarray:
        if self.mastered:
            audio = self.master.process(audio, loudness_lufs=float(controls[self._loudness_i]),
                                        agc=bool(snapshot.values["/master/agc"]),
                                        ceiling_db=float(controls[self._ceiling_i]),
                                        trim_db=float(controls[self._gain_i]))
        if audio.max() > 1.0 or audio.min() < -1.0:  # a ceiling above 0 dBTP, or no master: never past full scale
            self.clipped_samples += int(np.count_nonzero(np.abs(audio) > 1.0))
            np.clip(audio, -1.0, 1.0, out=audio)
        if self.analysis_active:
            if self.analysis.wanted or self.mods.listening(snapshot):
                self.analysis.push_output(audio, str(snapshot.values["/analysis/source"]), started)
            else:
                self.analysis.pause()
        return audio
