"""`run_engine.py devices`: PortAudio's host APIs and devices."""

from __future__ import annotations

import sounddevice as sd
from rich.table import Table

from engine.console import cli_console


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
