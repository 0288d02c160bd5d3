"""Scenes (recall with the morph time, save), pattern-memory slots, and the model and theme pickers,
filled from the folders beside the console (the engine's own when both run from one checkout)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from engine.gui.context import ConsoleContext
from engine.gui.widgets.choice import Choice
from engine.gui.widgets.fader import Fader

ROOT = Path(__file__).resolve().parents[3]
SCENES_DIR = ROOT / "presets" / "scenes"
THEMES_DIR = ROOT / "presets" / "themes"
MODELS_DIR = ROOT / "models"
SLOTS_SHOWN = 8
MODEL_SUFFIXES = (".ts", ".pt", ".torchscript")


def scene_names(folder: Path = SCENES_DIR) -> list[str]:
    names = []
    for path in sorted(folder.glob("*.toml")):
        try:
            names.append(str(tomllib.loads(path.read_text()).get("name", path.stem)))
        except (OSError, tomllib.TOMLDecodeError):
            continue  # a broken file is the engine's to report when recalled
    return names


def file_names(folder: Path, suffixes: tuple[str, ...]) -> list[str]:
    return sorted(p.name if suffixes != (".toml",) else p.stem for p in folder.glob("*") if p.suffix in suffixes)


class ScenePanel(QtWidgets.QWidget):
    def __init__(self, ctx: ConsoleContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.controls: list[QtWidgets.QWidget] = []
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        scenes = QtWidgets.QGroupBox("Scenes (keys 1-9 recall)")
        grid = QtWidgets.QGridLayout(scenes)
        self.scene_buttons: list[QtWidgets.QPushButton] = []
        for k, name in enumerate(scene_names()):
            button = QtWidgets.QPushButton(f"{k + 1}  {name}" if k < 9 else name)
            button.setMinimumHeight(48)
            button.clicked.connect(lambda _=False, n=name: self.recall(n))
            self.scene_buttons.append(button)
            grid.addWidget(button, k // 4, k % 4)
        row = (len(self.scene_buttons) + 3) // 4
        morph = ctx.model.params.get("/scene/morph_time")
        if morph is not None:
            self.morph = Fader(ctx, morph, "morph s", QtCore.Qt.Orientation.Horizontal)
            self.controls.append(self.morph)
            grid.addWidget(self.morph, row, 0, 1, 2)
        self.save_name = QtWidgets.QLineEdit()
        self.save_name.setPlaceholderText("scene name")
        save = QtWidgets.QPushButton("Save scene")
        save.clicked.connect(self.save)
        grid.addWidget(self.save_name, row, 2)
        grid.addWidget(save, row, 3)
        quantise = [a for a, p in ctx.model.params.items() if p.kind == "enum" and a.endswith(("quantise", "quantize"))]
        for address in quantise[:1]:  # an engine that quantises scene changes says so in /engine/list
            self.quantise = Choice(ctx, ctx.model.params[address])
            self.controls.append(self.quantise)
            grid.addWidget(QtWidgets.QLabel("quantise"), row + 1, 0)
            grid.addWidget(self.quantise, row + 1, 1)
        layout.addWidget(scenes)

        slots = QtWidgets.QGroupBox("Pattern slots (click: recall, shift-click: save)")
        row_layout = QtWidgets.QHBoxLayout(slots)
        for n in range(SLOTS_SHOWN):
            button = QtWidgets.QPushButton(str(n))
            button.setMinimumSize(52, 48)
            button.clicked.connect(lambda _=False, n=n: self.slot(n))
            row_layout.addWidget(button)
        layout.addWidget(slots)

        pickers = QtWidgets.QGroupBox("Model and theme")
        form = QtWidgets.QFormLayout(pickers)
        model = ctx.model.params.get("/rave/model")
        if model is not None:
            self.model_picker = Choice(ctx, model, file_names(MODELS_DIR, MODEL_SUFFIXES))
            self.model_picker.setPlaceholderText("(the model the engine started with)")
            self.controls.append(self.model_picker)
            form.addRow("model", self.model_picker)
        theme = ctx.model.params.get("/visual/theme")
        if theme is not None:
            self.theme_picker = Choice(ctx, theme, file_names(THEMES_DIR, (".toml",)))
            self.controls.append(self.theme_picker)
            form.addRow("theme", self.theme_picker)
        layout.addWidget(pickers)
        layout.addStretch(1)

    def recall(self, name: str) -> None:
        morph = self.ctx.model.values.get("/scene/morph_time")
        if morph is None:
            self.ctx.command("/scene/recall", name)
        else:
            self.ctx.command("/scene/recall", name, float(morph))  # type: ignore[arg-type]
        self.ctx.notify(f"scene {name}")

    def recall_number(self, number: int) -> None:
        """Keys 1-9."""
        if 0 < number <= len(self.scene_buttons):
            self.scene_buttons[number - 1].click()

    def save(self) -> None:
        name = self.save_name.text().strip()
        if name:
            self.ctx.command("/scene/save", name)

    def slot(self, n: int) -> None:
        modifiers = QtWidgets.QApplication.keyboardModifiers()
        save = bool(modifiers & QtCore.Qt.KeyboardModifier.ShiftModifier)
        self.ctx.command("/slot/save" if save else "/slot/recall", n)

    def detach(self) -> None:
        for control in self.controls:
            control.detach()  # type: ignore[attr-defined]
