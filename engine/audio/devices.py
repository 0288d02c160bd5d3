"""`run_engine.py devices`: PortAudio's host APIs and devices."""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import tempfile
from pathlib import Path

import sounddevice as sd
from rich.table import Table

from engine.console import cli_console

JACK_NO_START_SERVER = 0x01  # jack_options_t: never spawn a server while probing
_RETIRED_PORTAUDIO: list[object] = []  # PortAudio instances left behind by a dead device, never unloaded


def print_devices() -> int:
    table = Table(title="PortAudio devices")
    for column in ("index", "name", "host API", "in", "out", "default rate"):
        table.add_column(column)
    apis = sd.query_hostapis()
    for index, device in enumerate(sd.query_devices()):  # type: ignore[arg-type]
        table.add_row(str(index), device["name"], apis[device["hostapi"]]["name"],  # type: ignore[index]
                      str(device["max_input_channels"]), str(device["max_output_channels"]),
                      f"{device['default_samplerate']:g}")
    console = cli_console()
    console.print("host APIs: " + ", ".join(api["name"] for api in apis))  # type: ignore[index]
    console.print(table)
    return 0


def device_identity(device: int | str | None) -> tuple[str, str]:
    """(device name, host API name) of the output device PortAudio would open for `device`."""
    info = sd.query_devices(device, "output")
    return str(info["name"]), str(sd.query_hostapis(int(info["hostapi"]))["name"])  # type: ignore[index,call-overload]


def find_device(name: str, hostapi: str | None = None) -> int | None:
    """The index of the device called `name` (on `hostapi` when given) that can play, or None."""
    for index, info in enumerate(sd.query_devices()):  # type: ignore[arg-type]
        api = str(sd.query_hostapis(int(info["hostapi"]))["name"])  # type: ignore[index,call-overload]
        if info["name"] == name and info["max_output_channels"] > 0 and (hostapi is None or api == hostapi):  # type: ignore[index]
            return index
    return None


def rescan_devices(fresh: bool = False) -> None:
    """Re-initialise PortAudio so that it sees devices and servers that came (back) since it started:
    a JACK server is joined at initialisation, a USB interface enumerated then.

    `fresh`: the instance in use holds a stream its host API cannot close (PortAudio's JACK host
    API waits forever to abort a stream whose server died), so it is left alone, never called
    again, and sounddevice is pointed at a freshly loaded copy of the library instead.
    Otherwise the same instance is terminated and initialised, but only while any JACK server it
    joined is running: its JACK host API asserts (and so aborts the process) when it closes its
    client on a server that is gone.
    """
    if fresh:
        _load_fresh_portaudio()
        return
    if jack_joined() and not jack_server_running():
        raise OSError("the JACK server is not running")
    sd._terminate()
    sd._initialize()


def _loaded_path(name: str) -> Path:
    """Where the dynamic loader found library `name` (find_library gives only the soname)."""
    if Path(name).is_absolute():
        return Path(name)
    maps = Path("/proc/self/maps")
    if maps.exists():
        for line in maps.read_text().splitlines():
            path = line.split(maxsplit=5)[-1]
            if path.startswith("/") and Path(path).name.startswith(name):  # the soname links to a file
                return Path(path)
    raise OSError(f"cannot tell where {name} was loaded from")


def forget_portaudio() -> None:
    """The PortAudio instance in use holds a stream its host API cannot close: sounddevice must not
    terminate it at exit (that would wait forever too)."""
    sd._initialized = 0  # type: ignore[attr-defined]


def _load_fresh_portaudio() -> None:
    loaded = _loaded_path(str(sd._libname))  # type: ignore[attr-defined]
    copy = Path(tempfile.mkdtemp(prefix="rave-engine-portaudio-")) / loaded.name
    shutil.copyfile(loaded, copy)  # a new path is a new instance, with its own state
    # The old instance stays loaded for good: libjack still holds pointers into its code.
    _RETIRED_PORTAUDIO.append(sd._lib)  # type: ignore[attr-defined]
    sd._lib = sd._ffi.dlopen(str(copy))  # type: ignore[attr-defined]
    forget_portaudio()  # the count belonged to the old instance
    sd._initialize()


def jack_joined() -> bool:
    return any("JACK" in str(api["name"]) for api in sd.query_hostapis())  # type: ignore[index]


def jack_server_running() -> bool:
    """Whether the JACK server this process would join answers, asked through libjack directly."""
    try:
        jack = ctypes.CDLL(ctypes.util.find_library("jack") or "libjack.so.0")
    except OSError:
        return False
    jack.jack_client_open.restype = ctypes.c_void_p
    jack.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    jack.jack_client_close.argtypes = [ctypes.c_void_p]
    status = ctypes.c_int(0)
    client = jack.jack_client_open(b"rave-engine-probe", JACK_NO_START_SERVER, ctypes.byref(status))
    if not client:
        return False
    jack.jack_client_close(client)
    return True
