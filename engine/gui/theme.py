"""A dark theme readable on a dim stage: high contrast text, large hit targets, one accent colour."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtGui, QtWidgets

ACCENT = "#3d9bf5"
STYLE = f"""
* {{ font-size: 12px; }}
QGroupBox {{ border: 1px solid #33333d; border-radius: 4px; margin-top: 14px; padding-top: 4px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; color: #9a9aa8; }}
QPushButton {{ background: #2a2a34; border: 1px solid #3a3a46; border-radius: 4px; min-height: 30px;
              padding: 2px 8px; }}
QPushButton:hover {{ background: #34343f; }}
QPushButton:pressed, QPushButton:checked {{ background: {ACCENT}; color: #0b0b10; }}
QComboBox, QLineEdit {{ background: #22222a; border: 1px solid #3a3a46; border-radius: 3px; min-height: 28px;
                        padding: 0 6px; }}
QSlider::groove:vertical {{ background: #2a2a34; width: 10px; border-radius: 5px; }}
QSlider::handle:vertical {{ background: {ACCENT}; height: 22px; margin: 0 -12px; border-radius: 6px; }}
QSlider::groove:horizontal {{ background: #2a2a34; height: 10px; border-radius: 5px; }}
QSlider::handle:horizontal {{ background: {ACCENT}; width: 22px; margin: -12px 0; border-radius: 6px; }}
QTabBar::tab {{ background: #22222a; padding: 8px 18px; min-width: 80px; }}
QTabBar::tab:selected {{ background: {ACCENT}; color: #0b0b10; }}
QLabel#connection[state="up"] {{ color: #6fdc8c; font-weight: bold; }}
QLabel#connection[state="down"] {{ color: #ff6b5e; font-weight: bold; font-size: 14px; }}
QLabel#connection[state="waiting"] {{ color: #f5c542; font-weight: bold; }}
QDockWidget::title {{ background: #22222a; padding: 4px; }}
QListWidget {{ background: #1c1c23; }}
"""


def apply_dark_theme(app: QtWidgets.QApplication) -> None:
    app.setStyle("Fusion")
    palette = QtGui.QPalette()
    for role, colour in ((QtGui.QPalette.ColorRole.Window, "#16161c"), (QtGui.QPalette.ColorRole.Base, "#1c1c23"),
                         (QtGui.QPalette.ColorRole.Text, "#e6e6ea"), (QtGui.QPalette.ColorRole.WindowText, "#e6e6ea"),
                         (QtGui.QPalette.ColorRole.Button, "#2a2a34"), (QtGui.QPalette.ColorRole.ButtonText, "#e6e6ea"),
                         (QtGui.QPalette.ColorRole.Highlight, ACCENT)):
        palette.setColor(role, QtGui.QColor(colour))
    app.setPalette(palette)
    app.setStyleSheet(STYLE)
    pg.setConfigOptions(background="#101015", foreground="#c8c8d0", antialias=False)
