"""The live session: where a live set is assembled from the audio path (`engine.audio`), the
control path (`engine.control`) and the visual path (`engine.visual`). Only the command line,
tests and benchmarks import it; nothing inside the engine's other packages does."""
