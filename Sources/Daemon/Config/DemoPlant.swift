/// The plant rigd runs with no `--config`: one station of each implemented kind. Each points at the address a
/// `rigd simulate` of that kind listens on by default, and falls back to the in-process simulator when nothing
/// answers there — so on a bare machine every station runs simulated.
enum DemoPlant {
    static let source = "embedded demo plant"

    static let toml = """
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
    """

    static func configuration() throws(ConfigError) -> Configuration {
        try ConfigLoader.parse(toml, source: source)
    }
}
