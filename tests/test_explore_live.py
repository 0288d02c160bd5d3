"""The explorer live, on the JACK test server: /explore/atlas loads an atlas off the audio path and sends
it to subscribers, /explore/point and cluster:N move the walk, /rave/codebook switches the codebook in,
and bad paths or files are refused with /engine/error while the audio plays on."""

from __future__ import annotations

import shutil
from pathlib import Path

from jack_fixtures import SAMPLERATE, JackServer
from live_fixtures import assert_continuous, playing, run_until
from osc_fixtures import Listener, free_port

from engine.control.osc_codec import encode_message
from engine.explore.atlas import Atlas
from engine.models.default import MODELS_DIR


def test_atlas_codebook_and_navigation_live(jack_server: JackServer, live_model: Path, atlas_path: Path,
                                            tmp_path: Path) -> None:
    allowed = tmp_path / "atlases"
    allowed.mkdir()
    atlas_file = Path(shutil.copy(atlas_path, allowed / "collection.npz"))
    (allowed / "fake.npz").write_text("not an atlas")
    atlas = Atlas.load(atlas_file)
    port = free_port()
    listener = Listener()
    try:
        with playing(jack_server, live_model, 30.0, osc_port=port, allowed_model_dirs=[allowed]) as session:
            engine = session.engine
            graph = engine.decoder.graph

            def send(address: str, *args: object) -> None:
                listener.send(port, encode_message(address, *args))

            def errors() -> str:
                listener.drain()
                return " | ".join(str(args) for args in listener.messages("/engine/error"))

            send("/engine/subscribe")  # /engine/error
            send("/explore/subscribe")  # the atlas and the position on its map
            send("/explore/atlas", str(atlas_file))
            assert run_until(engine, lambda: listener.drain() or listener.messages("/explore/atlas/end"), 10.0), \
                errors()
            begin = listener.messages("/explore/atlas/begin")[-1]
            assert begin[:4] == [atlas.chunks, atlas.n_clusters, str(atlas_file), atlas.chunks]
            assert graph.explore.regions is not None
            assert run_until(engine, lambda: listener.drain() or listener.messages("/explore/position"), 5.0)
            assert all(-1.01 <= v <= 1.01 for v in listener.messages("/explore/position")[-1])

            x, y, z = (float(v) for v in atlas.positions[6])
            send("/explore/point", x, y, z)
            assert run_until(engine, lambda: graph.explore.target == ("chunk", 6), 5.0), errors()
            send("/engine/action", "cluster:1")
            assert run_until(engine, lambda: graph.explore.target == ("cluster", 1), 5.0), errors()

            send("/rave/codebook", str(atlas_file))
            assert run_until(engine, lambda: graph.explore.codebook_active, 10.0), errors()

            send("/rave/codebook", "/etc/collection.npz")
            assert run_until(engine, lambda: "no --allow-model-dir covers it" in errors(), 5.0), errors()
            send("/rave/codebook", str(allowed / "fake.npz"))
            assert run_until(engine, lambda: "is not an atlas" in errors(), 5.0), errors()
            assert graph.explore.codebook_active  # the playing codebook stays
            send("/rave/codebook", "off")
            assert run_until(engine, lambda: not graph.explore.codebook_active, 5.0), errors()
            # Unloading sends an empty atlas; loading it again sends it whole.
            send("/explore/atlas", "off")
            assert run_until(engine, lambda: listener.drain() or [0, 0, "", 0, 0, 0, "none"]
                             in listener.messages("/explore/atlas/begin"), 5.0), errors()
            assert graph.explore.regions is None
            send("/explore/atlas", str(atlas_file))
            assert run_until(engine, lambda: graph.explore.regions is not None, 10.0), errors()
            # A late subscriber gets the atlas too.
            late = Listener()
            try:
                late.send(port, encode_message("/explore/subscribe"))
                late.wait_for(lambda r: any(a == "/explore/atlas/end" for a, _ in r), 5.0)
            finally:
                late.close()
            send("/rave/codebook", str(atlas_file))
            assert run_until(engine, lambda: graph.explore.codebook_active, 10.0), errors()
            # Loads, switches and fades so far; a model swap's own load is the model tests' business.
            before_swap = session.capture.frames
            # A model swap: the new graph gets the loaded atlas and codebook once it plays.
            send("/rave/model", live_model.name if live_model.parent == MODELS_DIR else str(live_model))
            assert run_until(engine, lambda: engine.decoder.graph is not graph and not engine.swapper.loading
                             and engine.decoder.graph.explore.codebook_active, 30.0), errors()
            assert engine.decoder.graph.explore.regions is not None
            assert engine.decoder.graph.explore.target == ("cluster", 1)
            engine.run(0.5)
            assert engine.decoder.error is None
        # The first second holds the silence before the stream started (as in test_live_jack).
        assert_continuous(session.capture.recorded[SAMPLERATE:before_swap], "explore live after the first second")
    finally:
        listener.close()
