"""The right-click menu every control shares: MIDI learn, reset to default, show (and copy) its address."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from engine.gui.context import ConsoleContext


def attach_control_menu(widget: QtWidgets.QWidget, ctx: ConsoleContext, address: str) -> None:
    widget.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.CustomContextMenu)
    widget.customContextMenuRequested.connect(
        lambda pos: control_menu(widget, ctx, address).exec(widget.mapToGlobal(pos)))


def control_menu(parent: QtWidgets.QWidget, ctx: ConsoleContext, address: str) -> QtWidgets.QMenu:
    menu = QtWidgets.QMenu(parent)
    menu.addAction("MIDI learn", lambda: learn(ctx, address))
    menu.addAction("Reset to default", lambda: reset(ctx, address))
    menu.addAction(f"Copy address {address}", lambda: copy_address(ctx, address))
    return menu


def learn(ctx: ConsoleContext, address: str) -> None:
    ctx.command("/midi/learn", address)
    ctx.notify(f"MIDI learn: move a control to map it to {address}")


def reset(ctx: ConsoleContext, address: str) -> None:
    info = ctx.model.params.get(address)
    if info is not None:
        ctx.write(address, info.default)
        ctx.model.on_value(address, [info.default])  # show it now; feedback confirms


def copy_address(ctx: ConsoleContext, address: str) -> None:
    QtGui.QGuiApplication.clipboard().setText(address)
    ctx.notify(f"{address} copied to the clipboard")
