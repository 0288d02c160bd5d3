"""The performer console: a separate Qt process that plays the engine over OSC (like TouchOSC).

It learns the parameters from `/engine/list`, follows every change through the engine's streams and
writes with ordinary OSC messages, so it can run on another machine and a crash or a stall here never
touches the audio. `launch.py` (no Qt) spawns it; `app.py` runs it.
"""
