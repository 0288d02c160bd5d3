"""The console's main window: parameter tabs in the middle, meters, beat, spectrum, status and preview
in docks around them, the latent scope along the bottom. It fits 1280x800 and scales up; the docks'
layout and the window's geometry are kept between runs (settings.py).

Everything the engine streams lands in cheap handlers that keep the newest values; one 30 fps timer
redraws what changed, so a burst of messages never becomes a burst of repaints.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore, QtGui, QtWidgets

from engine.gui.context import ConsoleContext
from engine.gui.osc_link import EngineLink
from engine.gui.param_model import ParamModel
from engine.gui.settings import console_settings
from engine.gui.widgets.atlas_view import AtlasView
from engine.gui.widgets.beat import BeatView
from engine.gui.widgets.latent_faders import LatentFaders
from engine.gui.widgets.latent_scope import LatentScope
from engine.gui.widgets.lfo_panel import LfoPanel
from engine.gui.widgets.macros import MacroPanel
from engine.gui.widgets.meters import MeterBars
from engine.gui.widgets.preview import PreviewView
from engine.gui.widgets.scenes import ScenePanel
from engine.gui.widgets.spectrum import SpectrumView
from engine.gui.widgets.status import StatusPanel

REFRESH_HZ = 30.0
PLOT_EVERY = 3  # the plots (scope, spectrum, map, preview) redraw every third tick: 10 fps costs a third
DEFAULT_SIZE = (1280, 800)


class ConsoleWindow(QtWidgets.QMainWindow):
    def __init__(self, link: EngineLink, *, refresh_hz: float = REFRESH_HZ) -> None:
        super().__init__()
        self.setWindowTitle(f"rave-engine console - {link.target[0]}:{link.target[1]}")
        self.setObjectName("console")
        self.link = link
        self.model = ParamModel(self)
        self.ctx = ConsoleContext(self.model, link, notify=lambda text: self.statusBar().showMessage(text, 4000))
        self.panels: dict[str, QtWidgets.QWidget] = {}  # rebuilt from the table: they hold faders
        self._build()
        self._wire()
        self._shortcuts()
        self.refreshes = 0
        self._timer = QtCore.QTimer(self)
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._timer.setInterval(round(1000 / refresh_hz))
        self._timer.timeout.connect(self.refresh)
        self.resize(*DEFAULT_SIZE)
        self._restore()

    # --- layout ----------------------------------------------------------------------------
    def _build(self) -> None:
        self.tabs = QtWidgets.QTabWidget()
        self.play_tab = self._tab("Play")
        self.mod_tab = self._tab("LFO / Mod")
        self.scene_tab = self._tab("Scenes")
        self.map_tab = self._tab("Map")
        self.atlas = AtlasView(self.ctx)
        self.map_tab.layout().addWidget(self.atlas)
        self.setCentralWidget(self.tabs)
        self.meters = MeterBars()
        self.beat = BeatView()
        self.spectrum = SpectrumView()
        sound = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(sound)
        column.setContentsMargins(2, 2, 2, 2)
        column.addWidget(self.meters, 3)
        column.addWidget(self.beat, 2)
        column.addWidget(self.spectrum, 3)
        meters = self._dock("Meters", sound, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self.status_panel = StatusPanel()
        status = self._dock("Status", self.status_panel, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self.preview = PreviewView(local=self.link.target[0].startswith("127."))
        preview = self._dock("Preview", self.preview, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(status, preview)
        status.raise_()
        self.scope = LatentScope()
        scope = self._dock("Latent scope", self.scope, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
        self.resize(*DEFAULT_SIZE)
        self.resizeDocks([meters, status], [380, 380], QtCore.Qt.Orientation.Horizontal)
        self.resizeDocks([meters, status, scope], [360, 250, 150], QtCore.Qt.Orientation.Vertical)
        self.streams: list[Callable[[], None]] = [self.meters.refresh, self.beat.refresh, self.status_panel.refresh]
        self.plots: list[Callable[[], None]] = [self.spectrum.refresh, self.scope.refresh, self.atlas.refresh,
                                                self.preview.refresh]
        waiting = QtWidgets.QLabel("waiting for the engine's parameter list...")
        waiting.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.play_tab.layout().addWidget(waiting)
        self.panels["waiting"] = waiting

    def _tab(self, title: str) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        QtWidgets.QVBoxLayout(page).setContentsMargins(2, 2, 2, 2)
        self.tabs.addTab(page, title)
        return page

    def _dock(self, title: str, widget: QtWidgets.QWidget, area: QtCore.Qt.DockWidgetArea) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(f"dock-{title}")
        dock.setWidget(widget)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def rebuild(self) -> None:
        """Build the parameter panels from the table `/engine/list` returned (again after a swap)."""
        for name in list(self.panels):
            panel = self.panels.pop(name)
            detach = getattr(panel, "detach", None)
            if detach is not None:
                detach()
            panel.setParent(None)
            panel.deleteLater()
        self.macros = MacroPanel(self.ctx)
        self.latent = LatentFaders(self.ctx)
        layout = self.play_tab.layout()
        layout.addWidget(self.macros, 1)
        layout.addWidget(self.latent, 1)
        self.lfos = LfoPanel(self.ctx)
        self.mod_tab.layout().addWidget(self.lfos)
        self.scenes = ScenePanel(self.ctx)
        self.scene_tab.layout().addWidget(self.scenes)
        self.panels.update(macros=self.macros, latent=self.latent, lfos=self.lfos, scenes=self.scenes)

    # --- traffic ---------------------------------------------------------------------------
    def _wire(self) -> None:
        link, model = self.link, self.model
        link.on("/engine/param", model.on_param)
        link.on("/engine/list/done", model.on_list_done)
        link.on("/engine/list/changed", lambda *_: self.relist())
        link.on_other(model.on_value)
        link.on("/engine/meters", self.meters.on_meters)
        link.on("/engine/spectrum", self.spectrum.on_spectrum)
        link.on("/engine/latent", self.scope.on_latent)
        link.on("/engine/lfo", lambda a, args: self.lfos.on_lfo(a, args) if "lfos" in self.panels else None)
        link.on("/analysis/names", self.beat.on_names)
        link.on("/analysis/features", self.beat.on_features)
        link.on("/analysis/beat", self.beat.on_beat)
        link.on("/analysis/onset", self.beat.on_onset)
        link.on("/engine/status/reply", self.status_panel.on_status)
        link.on("/engine/status/reply", lambda _a, args: model.on_status(str(args[10])) if len(args) > 10 else None)
        link.on("/engine/error", self.status_panel.on_error)
        link.on("/engine/frames", self.preview.on_frames)
        link.on("/explore/atlas/begin", self.atlas.on_begin)
        link.on("/explore/atlas/points", self.atlas.on_points)
        link.on("/explore/atlas/end", self.atlas.on_end)
        link.on("/explore/position", self.atlas.on_position)
        link.on("/fail", lambda _a, args: self.ctx.notify("refused: " + " ".join(str(a) for a in args)))
        link.on("/done", lambda _a, args: self.ctx.notify("done: " + " ".join(str(a) for a in args)))
        link.connected_changed.connect(self._connection)
        model.table_changed.connect(self.rebuild)
        model.listing_wanted.connect(self.relist)

    def _connection(self, connected: bool) -> None:
        self.status_panel.set_connected(connected, f"{self.link.target[0]}:{self.link.target[1]}")
        if connected:
            self.relist()

    def relist(self) -> None:
        self.model.begin_listing()
        self.link.send("/engine/list")
        self.link.send("/analysis/names")

    def start(self) -> None:
        self.link.start()
        self._timer.start()

    def refresh(self) -> None:
        """The 30 fps redraw: each view draws what arrived since its last redraw (the plots at 10 fps)."""
        self.refreshes += 1
        for redraw in self.streams:
            redraw()
        if self.refreshes % PLOT_EVERY == 0:
            for redraw in self.plots:
                redraw()
            if "lfos" in self.panels and self.lfos.isVisible():
                self.lfos.refresh()

    # --- keys ------------------------------------------------------------------------------
    def _shortcuts(self) -> None:
        QtGui.QShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_Space), self, self.tap_tempo)
        QtGui.QShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_F), self, lambda: self.link.send("/visual/fullscreen"))
        for number in range(1, 10):
            QtGui.QShortcut(QtGui.QKeySequence(str(number)), self, lambda n=number: self.recall_scene(n))

    def recall_scene(self, number: int) -> None:
        scenes = self.panels.get("scenes")
        if isinstance(scenes, ScenePanel):
            scenes.recall_number(number)

    def tap_tempo(self) -> None:
        macros = self.panels.get("macros")
        if isinstance(macros, MacroPanel):
            macros.tap()

    # --- state between runs ----------------------------------------------------------------
    def _restore(self) -> None:
        settings = console_settings()
        geometry = settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)  # type: ignore[arg-type]
        state = settings.value("window/state")
        if state is not None:
            self.restoreState(state)  # type: ignore[arg-type]
        tab = settings.value("window/tab")
        if tab is not None:
            self.tabs.setCurrentIndex(int(tab))  # type: ignore[call-overload]

    def save_state(self) -> None:
        settings = console_settings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        settings.setValue("window/tab", self.tabs.currentIndex())
        settings.sync()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.save_state()
        self._timer.stop()
        self.preview.close_frames()
        self.link.close()
        super().closeEvent(event)
