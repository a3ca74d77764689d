/// The plant rigd runs with no `--config`: one station of each implemented kind. Each points at the address a
/// `rigd simulate` of that kind listens on by default, and falls back to the in-process simulator when nothing
/// answers there — so on a bare machine every station runs simulated.
package enum DemoPlant {
    package static let source = "embedded demo plant"

    package static let toml = """
    # rigd embedded demo plant
    [[station]]
    name = "extractor-1"
    kind = "extraction"
    address = "tcp://127.0.0.1:15021"
    fallback = "simulate"
    probe_timeout_ms = 500

    [station.control]
    start_run = true        # a 6 h run with the paper's settings starts once the station is up

    [[station]]
    name = "heat-rig-1"
    kind = "heat-rig"
    address = "tcp://127.0.0.1:15020"
    fallback = "simulate"
    probe_timeout_ms = 500

    [station.control]
    setpoint_c = 60.0

    [[station]]
    name = "mill-1"
    kind = "cnc-mill"
    address = "tcp://127.0.0.1:15022"
    fallback = "simulate"
    probe_timeout_ms = 500

    [station.control]
    start_run = true        # an hour's cut in aluminium at 8000 rpm, torque supervised from the 1 kHz ring
    cut_duration_s = 3600

    [[station]]
    name = "msd-1"
    kind = "msd-rig"
    address = "tcp://127.0.0.1:15023"
    fallback = "simulate"
    probe_timeout_ms = 500

    [station.control]
    start_run = true        # the students' experiment: free decay, then a stepped-sine sweep (about 3 min)

    [[station]]
    name = "stream-1"
    kind = "stream-station"
    address = "tcp://127.0.0.1:15024"
    fallback = "simulate"
    probe_timeout_ms = 500

    # Two sondes on one RS-485 line: a 1 ha earthen pond and a 2 m³ nursery tank. With no adapter at that path both
    # run on the in-process simulator, on one bus thread as they would on the wire.
    [[station]]
    name = "pond-1"
    kind = "aqua-sonde"
    address = "rtu:///dev/ttyUSB0?baud=9600&parity=N&unit=1"
    fallback = "simulate"
    response_timeout_ms = 300

    [station.sim]
    preset = "pond"

    [station.control]
    aerators = 2

    [[station]]
    name = "nursery-1"
    kind = "aqua-sonde"
    address = "rtu:///dev/ttyUSB0?baud=9600&parity=N&unit=2"
    fallback = "simulate"
    response_timeout_ms = 300

    [station.sim]
    preset = "nursery"
    probe_errors = true                 # its probes are fresh out of storage: calibrate them from its page

    [station.control]
    aerators = 2
    feed_times = ["06:00", "09:00", "12:00", "15:00", "18:00"]
    feed_minutes = 5
    feed_temp_min_c = 24
    feed_temp_max_c = 30
    heater_setpoint_c = 27.5            # the tank heater holds 27.2–27.8 °C in a 26 °C hall
    light_on = "07:00"                  # the grow lamp's photoperiod
    light_off = "19:00"
    """

    package static func configuration() throws(ConfigError) -> Configuration {
        try ConfigLoader.parse(toml, source: source)
    }
}
