import Daemon

/// The rigd executable: the Daemon library's command line (`rigd --help`), nothing else.
@main
enum RigdMain {
    static func main() async {
        await Rigd.main()
    }
}
