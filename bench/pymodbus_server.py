#!/usr/bin/env python3
"""Reference Modbus TCP server built on pymodbus 3.x, for the rigd benchmarks.

Usage:  python3 bench/pymodbus_server.py HOST PORT      (PORT 0 = any free port)

Serves 512 input registers (addresses 0..511) whose value equals their
address, for every unit id. Once it accepts connections it prints exactly one
line "listening on HOST:PORT" (the real port) to stdout and flushes. Exits 0
on SIGTERM/SIGINT. pymodbus logging is limited to warnings and above.

The datastore API differs across pymodbus 3.x releases; this script picks:
  * 3.13+  : SimDevice/SimData (device id 0 = every unit id), which avoids
             the deprecated ModbusDeviceContext path (it logs warnings there).
             The 512 registers are one shared block, so FC3 (holding) and
             FC1/FC2 read the same cells; only FC4 matters for the benchmark;
  * 3.10-3.12: ModbusDeviceContext + ModbusServerContext(devices=..., single=True);
  * 3.0-3.9  : ModbusSlaveContext  + ModbusServerContext(slaves=...,  single=True).
In the legacy paths ModbusSequentialDataBlock(1, values) puts values[0] at
protocol address 0 (the datastore adds 1 to the request address, and 3.13+
subtracts 1 from the block address).

Exit codes: 0 normal stop, 1 startup failure, 2 usage, 69 pymodbus missing.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

NB_INPUT_REGISTERS = 512
EX_UNAVAILABLE = 69


def fail_no_pymodbus(detail: str = "") -> None:
    print("pymodbus not installed: python3 -m pip install pymodbus", file=sys.stderr)
    if detail:
        print(f"({detail})", file=sys.stderr)
    sys.exit(EX_UNAVAILABLE)


try:
    import pymodbus
    from pymodbus.server import ModbusTcpServer
except ImportError as exc:  # pymodbus missing (or a 2.x layout without it)
    fail_no_pymodbus(str(exc))

PYMODBUS_VERSION = getattr(pymodbus, "__version__", "0")


def version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


if version_tuple(PYMODBUS_VERSION) < (3, 0):
    print(
        f"pymodbus {PYMODBUS_VERSION} is too old, 3.x required: "
        "python3 -m pip install -U pymodbus",
        file=sys.stderr,
    )
    sys.exit(EX_UNAVAILABLE)


def quiet_logging() -> None:
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for name in ("pymodbus", "pymodbus.logging", "asyncio"):
        logging.getLogger(name).setLevel(logging.WARNING)


def build_context():
    """Return (api_name, context) for ModbusTcpServer(context, ...)."""
    values = list(range(NB_INPUT_REGISTERS))

    # pymodbus >= 3.13: the server accepts SimDevice directly (runs it via SimCore).
    try:
        import pymodbus.server.base as server_base

        if hasattr(server_base, "SimCore"):
            from pymodbus.simulator import DataType, SimData, SimDevice

            device = SimDevice(
                id=0,  # 0 = every unit id not otherwise defined
                simdata=[SimData(address=0, values=values, datatype=DataType.REGISTERS)],
            )
            return "SimDevice", device
    except (ImportError, AttributeError, TypeError):
        pass

    # Legacy datastore API.
    from pymodbus import datastore as ds

    def block(vals):
        return ds.ModbusSequentialDataBlock(1, vals)  # vals[0] at protocol address 0

    device_cls = getattr(ds, "ModbusDeviceContext", None) or getattr(ds, "ModbusSlaveContext")
    # Pass all four blocks: an omitted block defaults to 65536 zeros, and
    # 3.9.x ignores ir=/hr=/co= unless di= is given. Blocks cannot be empty,
    # so coils/discrete inputs/holding registers get one cell at address 0.
    device = device_cls(di=block([False]), co=block([False]), hr=block([0]), ir=block(values))
    try:
        context = ds.ModbusServerContext(devices=device, single=True)
        api = f"{device_cls.__name__}/devices="
    except TypeError:
        context = ds.ModbusServerContext(slaves=device, single=True)
        api = f"{device_cls.__name__}/slaves="
    return api, context


def bound_port(server, requested: int) -> int | None:
    """Real listening port, or None while the server is not listening yet.

    pymodbus binds with loop.create_server(), whose asyncio.Server is kept in
    server.transport (3.x releases checked: 3.6 .. 3.16), so PORT 0 works.
    """
    transport = getattr(server, "transport", None)
    if not transport:
        return None
    sockets = getattr(transport, "sockets", None)
    if sockets:
        return sockets[0].getsockname()[1]
    return requested or None


async def serve(host: str, port: int) -> int:
    api, context = build_context()
    print(f"pymodbus_server: pymodbus {PYMODBUS_VERSION}, datastore API {api}", file=sys.stderr)
    server = ModbusTcpServer(context, address=(host, port))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    serve_task = asyncio.create_task(server.serve_forever())
    # serve_forever() binds first and then waits; wait for the listener.
    real_port = None
    for _ in range(500):  # up to ~5 s
        if serve_task.done():
            break
        real_port = bound_port(server, port)
        if real_port is not None:
            break
        await asyncio.sleep(0.01)
    if real_port is None:
        if serve_task.done() and serve_task.exception() is not None:
            print(f"pymodbus_server: cannot listen on {host}:{port}: "
                  f"{serve_task.exception()}", file=sys.stderr)
        else:
            print(f"pymodbus_server: cannot listen on {host}:{port}", file=sys.stderr)
        serve_task.cancel()
        return 1

    print(f"listening on {host}:{real_port}", flush=True)

    stop_task = asyncio.create_task(stop.wait())
    await asyncio.wait({serve_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    rc = 0
    if serve_task.done() and not stop_task.done():
        exc = serve_task.exception()
        print(f"pymodbus_server: server stopped unexpectedly: {exc}", file=sys.stderr)
        rc = 1
    stop_task.cancel()
    try:
        await asyncio.wait_for(server.shutdown(), timeout=2.0)
    except Exception:  # pylint: disable=broad-except
        pass
    if not serve_task.done():
        serve_task.cancel()
    await asyncio.gather(serve_task, return_exceptions=True)
    return rc


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python3 bench/pymodbus_server.py HOST PORT   (PORT 0 = any free port)",
              file=sys.stderr)
        return 2
    host = argv[1]
    try:
        port = int(argv[2])
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        print(f"pymodbus_server: invalid port '{argv[2]}'", file=sys.stderr)
        return 2
    quiet_logging()
    try:
        return asyncio.run(serve(host, port))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
