"""`explore`: a collection mapped into an atlas (chunks, map, clusters, descriptors), saved and read
back, summarised by `explore show`, a cluster played by `explore play`; bad input gets one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import rms
from explore_fixtures import plucks

from engine.cli import main
from engine.errors import AtlasError
from engine.explore.atlas import DESCRIPTOR_NAMES, Atlas
from engine.explore.build import ExploreRequest, build_atlas
from engine.explore.map3d import map_3d
from engine.models.nn_tilde import NNModel
from engine.models.resample import resample


def test_the_atlas_holds_every_readable_file_in_chunks(atlas_path: Path, default_model: NNModel) -> None:
    atlas = Atlas.load(atlas_path)
    assert atlas.files == ["plucks.wav", "sub/deeper/more_plucks.ogg", "sub/pads.flac"]
    assert len(atlas.skipped) == 1 and "broken.wav" in atlas.skipped[0]
    assert atlas.latent_size == default_model.latent_size and atlas.model_name == "default.ts"
    assert atlas.chunks == 20  # 8 + 6 + 6 seconds in 1 s chunks
    assert atlas.chunk_seconds.sum() == pytest.approx(20.0, abs=0.1)
    assert atlas.n_clusters == 4 and sorted(set(atlas.clusters.tolist())) == [0, 1, 2, 3]
    assert atlas.positions.shape == (20, 3) and np.abs(atlas.positions).max() == pytest.approx(1.0)
    assert atlas.map_method == "pca"
    # Chunk i of a file starts where chunk i-1 ended; each chunk's mean is the mean of its frames.
    first = atlas.chunk_file == 0
    assert np.allclose(np.diff(atlas.chunk_start[first]), 1.0, atol=atlas.frame_seconds)
    frames = atlas.frames[atlas.frame_chunk == 3]
    assert np.allclose(atlas.chunk_latent[3], frames.mean(axis=0), atol=1e-5)


def test_descriptors_tell_the_sounds_apart(atlas_path: Path) -> None:
    atlas = Atlas.load(atlas_path)
    d = {name: atlas.descriptors[:, i] for i, name in enumerate(DESCRIPTOR_NAMES)}
    plucks, pads = atlas.chunk_file == 0, atlas.chunk_file == 2
    assert d["onset_rate"][plucks].mean() > d["onset_rate"][pads].mean()  # plucks every 0.3-0.7 s
    assert d["centroid_hz"][plucks].mean() < d["centroid_hz"][pads].mean()  # 55-440 Hz against 523-988 Hz
    assert np.all(d["loudness_db"] < 0) and np.all(d["loudness_db"] > -60)
    # The pads' chord is C E G B: its chroma peaks on those four pitch classes.
    chroma = atlas.descriptors[pads, 3:].mean(axis=0)
    assert set(np.argsort(chroma)[-4:]) == {0, 4, 7, 11}


def test_pads_and_plucks_fall_into_different_clusters(atlas_path: Path) -> None:
    atlas = Atlas.load(atlas_path)
    pads = set(atlas.clusters[atlas.chunk_file == 2].tolist())
    plucks = set(atlas.clusters[atlas.chunk_file != 2].tolist())
    assert not pads & plucks


def test_umap_maps_in_3d_where_installed() -> None:
    pytest.importorskip("umap")
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 0.1, (20, 8)), rng.normal(3, 0.1, (20, 8))])
    positions, method = map_3d(points, seed=0)
    assert method == "umap" and positions.shape == (40, 3)
    assert np.abs(positions).max() == pytest.approx(1.0)
    gap = np.linalg.norm(positions[:20].mean(axis=0) - positions[20:].mean(axis=0))
    assert gap > 3 * max(positions[:20].std(axis=0).max(), positions[20:].std(axis=0).max())


def test_pca_is_the_map_without_umap() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(5, 8)) * [10, 5, 2, 0.1, 0.1, 0.1, 0.1, 0.1]
    positions, method = map_3d(points, method="pca")
    assert method == "pca" and positions.shape == (5, 3)


def test_explore_show_json_summarises_the_atlas(atlas_path: Path, capsys: pytest.CaptureFixture[str],
                                                default_model: NNModel) -> None:
    assert main(["explore", "show", str(atlas_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["chunks"] == 20 and info["latent_size"] == default_model.latent_size and len(info["files"]) == 3
    assert [c["cluster"] for c in info["clusters"]] == [0, 1, 2, 3]
    assert sum(c["size"] for c in info["clusters"]) == 20
    typical = info["clusters"][0]["typical"][0]
    assert typical["file"] in info["files"] and set(info["clusters"][0]["descriptors"]) >= {
        "loudness_db", "centroid_hz", "onset_rate", "chroma"}


def test_explore_show_prints_a_table(atlas_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "show", str(atlas_path)]) == 0
    out = capsys.readouterr().out
    assert "20 chunks" in out and "plucks.wav@" in out and "skipped: " in out


def test_explore_play_renders_a_cluster(atlas_path: Path, tmp_path: Path) -> None:
    atlas = Atlas.load(atlas_path)
    cluster = int(atlas.clusters[atlas.chunk_file == 2][0])  # the pads' cluster
    out = tmp_path / "cluster.wav"
    assert main(["explore", "play", str(atlas_path), "--cluster", str(cluster), "--out", str(out)]) == 0
    audio, rate = sf.read(out)
    members = int(np.count_nonzero(atlas.clusters == cluster))
    assert rate == 48000
    assert audio.shape[0] / rate == pytest.approx(members, abs=0.2)  # its 1 s chunks, once
    assert rms(audio) > 1e-3


def test_explore_command_writes_an_atlas(collection: Path, tmp_path: Path,
                                         capfd: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "a.npz"
    assert main(["explore", "--collection", str(collection), "--out", str(out), "--clusters", "3",
                 "--chunk-seconds", "2", "--map", "pca"]) == 0
    err = capfd.readouterr().err
    assert "wrote" in err and "3 clusters" in err and "skipped" in err and "broken.wav" in err
    assert Atlas.load(out).chunks == 10


def _one_error_line(argv: list[str], capfd: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capfd.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1, err
    return err


def test_bad_collections_get_one_line(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "a.npz")
    assert "no such folder" in _one_error_line(["explore", "--collection", str(tmp_path / "nope"), "--out", out],
                                               capfd)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("hi")
    assert "no audio files" in _one_error_line(["explore", "--collection", str(tmp_path / "empty"), "--out", out],
                                               capfd)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.wav").write_bytes(b"nope")
    assert "none of its 1 audio files could be read" in _one_error_line(
        ["explore", "--collection", str(tmp_path / "bad"), "--out", out], capfd)
    assert "needs --collection" in _one_error_line(["explore", "--out", out], capfd)


def test_files_that_are_not_atlases_get_one_line(tmp_path: Path, atlas_path: Path,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "text.npz"
    text.write_text("hello")
    assert "is not an atlas" in _one_error_line(["explore", "show", str(text)], capfd)
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    assert "is not an atlas (no header" in _one_error_line(["explore", "show", str(other)], capfd)
    assert "no such atlas file" in _one_error_line(["explore", "show", str(tmp_path / "gone.npz")], capfd)
    assert "clusters 0..3" in _one_error_line(["explore", "play", str(atlas_path), "--cluster", "9", "--out",
                                               str(tmp_path / "x.wav")], capfd)


def test_an_atlas_of_another_version_or_latent_size_is_refused(atlas_path: Path, tmp_path: Path,
                                                              default_model: NNModel) -> None:
    atlas = Atlas.load(atlas_path)
    with np.load(atlas_path) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["header"]))
    header["version"] = 99
    old = tmp_path / "old.npz"
    np.savez(old, **{**arrays, "header": np.array(json.dumps(header))})
    with pytest.raises(AtlasError, match="format version 99"):
        Atlas.load(old)
    dims, other = default_model.latent_size, 2 * default_model.latent_size
    with pytest.raises(AtlasError, match=rf"latent size {dims}\) cannot play on x.ts \(latent size {other}\)"):
        atlas.check_model(other, "x.ts")


def test_a_damaged_atlas_is_refused(atlas_path: Path, tmp_path: Path) -> None:
    with np.load(atlas_path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["positions"] = arrays["positions"][:, :2]
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(AtlasError, match="damaged atlas: positions"):
        Atlas.load(bad)


def test_build_checks_its_settings(collection: Path, tmp_path: Path) -> None:
    with pytest.raises(AtlasError, match="--clusters must be 1..256"):
        build_atlas(ExploreRequest(collection, tmp_path / "a.npz", clusters=0))
    with pytest.raises(AtlasError, match="ends in .npz"):
        build_atlas(ExploreRequest(collection, tmp_path / "a.json"))
    with pytest.raises(AtlasError, match="does not exist"):
        build_atlas(ExploreRequest(collection, tmp_path / "no" / "a.npz"))


def test_long_files_are_read_in_blocks_with_the_same_result(tmp_path: Path, default_model: NNModel,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A file is read, resampled, described and encoded block by block (so an hour never sits in memory);
    the blocks give the latents and the descriptors of the whole file read at once."""
    import engine.explore.build as build

    folder = tmp_path / "c"
    folder.mkdir()
    sf.write(folder / "plucks44.wav", resample(plucks(6.0), 48000, 44100), 44100)
    whole = build_atlas(ExploreRequest(folder, None, clusters=2, map_method="pca"), model=default_model).atlas
    monkeypatch.setattr(build, "READ_BLOCK_SECONDS", 0.37)
    blocks = build_atlas(ExploreRequest(folder, None, clusters=2, map_method="pca"), model=default_model).atlas
    assert blocks.frames.shape == whole.frames.shape
    assert np.allclose(blocks.frames, whole.frames, atol=1e-3)
    assert np.allclose(blocks.descriptors, whole.descriptors, rtol=1e-3, atol=1e-3)
