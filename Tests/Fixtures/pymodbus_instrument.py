#!/usr/bin/env python3
"""A third-party Modbus TCP instrument for rigd's tests: pymodbus serving a register layout the test writes.

Usage:  python3 Tests/Fixtures/pymodbus_instrument.py HOST PORT LAYOUT.json     (PORT 0 = any free port)

LAYOUT.json: {"registers": {"256": 16531, "257": 0, ...}} — 16-bit words by 0-based protocol address. They are
one block from address 0 to the highest given (zeros between), served to every unit id; as with pymodbus's
simulator device in 3.13+, holding (FC 3) and input (FC 4) registers read the same cells, which a map that puts
its channels and its identity at different addresses does not mind. Once listening it prints one line
"listening on HOST:PORT" and flushes; it exits 0 on SIGTERM. Exit 69 when pymodbus is missing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys

try:
    import pymodbus
    from pymodbus.server import ModbusTcpServer
except ImportError as exc:
    print(f"pymodbus not installed: python3 -m pip install pymodbus ({exc})", file=sys.stderr)
    sys.exit(69)


def build_context(values: list[int]):
    try:
        import pymodbus.server.base as server_base

        if hasattr(server_base, "SimCore"):  # 3.13+
            from pymodbus.simulator import DataType, SimData, SimDevice

            return SimDevice(id=0, simdata=[SimData(address=0, values=values, datatype=DataType.REGISTERS)])
    except (ImportError, AttributeError, TypeError):
        pass
    from pymodbus import datastore as ds

    def block(vals):
        return ds.ModbusSequentialDataBlock(1, vals)  # vals[0] at protocol address 0 (the datastore adds 1)

    device_cls = getattr(ds, "ModbusDeviceContext", None) or getattr(ds, "ModbusSlaveContext")
    device = device_cls(di=block([False]), co=block([False]), hr=block(values), ir=block(values))
    try:
        return ds.ModbusServerContext(devices=device, single=True)
    except TypeError:
        return ds.ModbusServerContext(slaves=device, single=True)


async def serve(host: str, port: int, registers: dict[int, int]) -> int:
    values = [0] * (max(registers) + 1)
    for address, word in registers.items():
        values[address] = word & 0xFFFF
    server = ModbusTcpServer(build_context(values), address=(host, port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(server.serve_forever())
    real = None
    for _ in range(500):
        if task.done():
            break
        transport = getattr(server, "transport", None)
        sockets = getattr(transport, "sockets", None) if transport else None
        if sockets:
            real = sockets[0].getsockname()[1]
            break
        await asyncio.sleep(0.01)
    if real is None:
        print(f"pymodbus_instrument: cannot listen on {host}:{port}", file=sys.stderr)
        task.cancel()
        return 1
    print(f"listening on {host}:{real}", flush=True)
    await asyncio.wait({task, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    try:
        await asyncio.wait_for(server.shutdown(), timeout=2.0)
    except Exception:  # pylint: disable=broad-except
        pass
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(argv[3], encoding="utf-8") as f:
        layout = json.load(f)
    registers = {int(k): int(v) for k, v in layout["registers"].items()}
    # A parent that blocks SIGTERM in its threads (a test runner) passes the mask on: unblock it, or it never arrives.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    return asyncio.run(serve(argv[1], int(argv[2]), registers))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
