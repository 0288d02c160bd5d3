"""One exception class per layer; each message names the thing, its value and what was expected."""


class EngineError(Exception):
    """Base of every error the engine reports to a user as one clear line."""


class ModelLoadError(EngineError):
    """A model file that cannot be loaded or lacks what the engine needs."""


class ParamError(EngineError):
    """An unknown address or a value a parameter refuses."""


class PresetError(EngineError):
    """A scene, automation or other TOML file that is malformed."""


class AudioFileError(EngineError):
    """An audio file that cannot be read or written."""


class VisualError(EngineError):
    """A theme, generator or pipeline the visual path cannot use (missing weights, bad settings)."""


class FrameSizeError(ParamError, VisualError):
    """A video frame size outside engine/visual/frame_size.py's rule: a bad setting to the command line
    and the parameter layer, and to the visual path."""


class TrainingDataError(EngineError):
    """A training folder, checkpoint or option the `train` command cannot use."""
