"""The remote visual node: the visual process on another host, fed over OSC/UDP on the audio clock.

protocol.py (the messages), clock_sync.py (network delay and clock offset from ping/pong),
sender.py (the engine's side: a bounded, never-blocking UDP sender), playout.py (the node's jitter
buffer: rows wait for the moment their audio is heard), node.py (the node: receive, schedule, hand
the local visual process what it would get beside the engine), sinks.py (frames to further outputs).
"""
