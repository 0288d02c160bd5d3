"""The control path: OSC and MIDI messages become parameter writes through one hub."""
