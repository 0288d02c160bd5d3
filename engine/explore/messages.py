"""The atlas as OSC messages for a GUI to draw (the console's map), bounded whatever its size.

    /explore/atlas/begin COUNT CLUSTERS PATH CHUNKS LATENT_SIZE FILES MAP_METHOD
    /explore/atlas/cluster N SIZE X Y Z LOUDNESS_DB CENTROID_HZ ONSET_RATE    (one per cluster)
    /explore/atlas/points FIRST X Y Z CLUSTER X Y Z CLUSTER ...               (64 chunks a message)
    /explore/atlas/end COUNT

COUNT is the number of points sent (at most MAX_SENT_CHUNKS), CHUNKS the atlas's. `/explore/atlas off`
sends an empty atlas: `begin 0 0 "" 0 0 0 none`, then `end 0`. Positions are the 3D map's (each axis
-1..1); at most MAX_SENT_CHUNKS chunks go out (SENT says how
many, CHUNKS how many the atlas holds), so an atlas costs a subscriber at most 128 chunk messages
plus one per cluster (about 180 kB).
"""

from __future__ import annotations

from engine.explore.atlas import Atlas

CHUNKS_PER_MESSAGE = 64  # 257 arguments: about 1.3 kB a datagram
MAX_SENT_CHUNKS = 8192

Message = tuple[str, list[object]]


def atlas_messages(atlas: Atlas, path: str) -> list[Message]:
    sent = min(atlas.chunks, MAX_SENT_CHUNKS)
    messages: list[Message] = [("/explore/atlas/begin", [sent, atlas.n_clusters, path, atlas.chunks,
                                                         atlas.latent_size, len(atlas.files), atlas.map_method])]
    for c in range(atlas.n_clusters):
        members = atlas.clusters == c
        x, y, z = (float(v) for v in atlas.positions[members].mean(axis=0))
        loudness, centroid, onsets = (float(v) for v in atlas.descriptors[members, :3].mean(axis=0))
        messages.append(("/explore/atlas/cluster", [c, int(members.sum()), x, y, z, loudness, centroid, onsets]))
    for first in range(0, sent, CHUNKS_PER_MESSAGE):
        args: list[object] = [first]
        for i in range(first, min(first + CHUNKS_PER_MESSAGE, sent)):
            args += [float(v) for v in atlas.positions[i]]
            args.append(int(atlas.clusters[i]))
        messages.append(("/explore/atlas/points", args))
    messages.append(("/explore/atlas/end", [sent]))
    return messages


def no_atlas_messages() -> list[Message]:
    """What subscribers get when the atlas is unloaded: an empty one."""
    return [("/explore/atlas/begin", [0, 0, "", 0, 0, 0, "none"]), ("/explore/atlas/end", [0])]
