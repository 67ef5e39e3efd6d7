import PghaRuntime
import PghaSpec
import XCTest

/// Reload or restart: from what pgpool loaded (pgha's stamp) and what is written now.
final class PgpoolServiceTests: XCTestCase {
    let conf = "/etc/pgpool2/pgpool.conf", hba = "/etc/pgpool2/pool_hba.conf", id = "/etc/pgpool2/pgpool_node_id"
    let loaded = "port = 9999\nhealth_check_period = 2 # seconds\nsr_check_user = 'pgpool'\ndelegate_IP = '10.77.0.102'\n"

    func state(running: Bool = true, stale: [String] = [], changed: [String]?) -> PgpoolServiceStep.State {
        PgpoolServiceStep.State(running: running, enabled: true, stale: stale, changed: changed)
    }

    func action(_ s: PgpoolServiceStep.State, _ current: String? = nil) -> PgpoolServiceStep.Action? {
        PgpoolServiceStep.action(s, loaded: loaded, current: current ?? loaded, conf: conf)
    }

    func testDecisions() {
        XCTAssertEqual(action(state(running: false, changed: nil)), .start)
        XCTAssertNil(action(state(changed: [])))
        // No stamp (the distribution's pgpool, or after a reboot): a newer file means a restart.
        XCTAssertEqual(action(state(stale: [conf], changed: nil)), .restart("it runs with older pgpool.conf"))
        XCTAssertNil(action(state(changed: nil)))
        // A reloadable setting changed by hand, and pool_hba.conf.
        XCTAssertEqual(action(state(changed: [conf]), loaded.replacingOccurrences(of: "= 2 # seconds", with: "= 7")),
                       .reload("health_check_period changed (reloadable)"))
        XCTAssertEqual(action(state(changed: [hba])), .reload("pool_hba.conf changed"))
        XCTAssertEqual(action(state(changed: [conf, hba]), loaded + "sr_check_period = 9\n"),
                       .reload("sr_check_period, pool_hba.conf changed (reloadable)"))
        // Read at start only.
        XCTAssertEqual(action(state(changed: [conf]), loaded.replacingOccurrences(of: "9999", with: "9998")),
                       .restart("port changed (read at start only)"))
        XCTAssertEqual(action(state(changed: [conf]), loaded + "num_init_children = 64\nhealth_check_timeout = 9\n"),
                       .restart("num_init_children changed (read at start only)"))
        XCTAssertEqual(action(state(changed: [id])), .restart("pgpool_node_id changed (read at start)"))
    }

    func testConfParsing() {
        XCTAssertEqual(PgpoolConf.settings("# c\n a = 1 # x\nb='#not a comment'\n\n"), ["a": "1", "b": "'#not a comment'"])
        XCTAssertEqual(PgpoolConf.changedKeys("a = 1\nb = 2\n", "a = 1\nb = 3\nc = 4\n"), ["b", "c"])
        XCTAssertTrue(PgpoolConf.reloadable("health_check_period"))
        XCTAssertTrue(PgpoolConf.reloadable("backend_weight2"))
        XCTAssertFalse(PgpoolConf.reloadable("delegate_IP"))
        XCTAssertFalse(PgpoolConf.reloadable("wd_heartbeat_deadtime"))
    }

    /// The running pgpool's settings (pgpool show all) against the file: a value edited and
    /// reloaded by hand is found even when the file is the spec's again.
    func testLiveSettings() {
        let live = ["port": "9999", "health_check_period": "7", "sr_check_user": "pgpool", "delegate_ip": "10.77.0.102"]
        XCTAssertEqual(PgpoolConf.liveDifferences(file: loaded, live: live), ["health_check_period"])
        XCTAssertEqual(PgpoolServiceStep.action(state(changed: []), loaded: loaded, current: loaded, conf: conf, live: live),
                       .reload("runs with another health_check_period (reloadable)"))
        var same = live
        same["health_check_period"] = "2"
        XCTAssertNil(PgpoolServiceStep.action(state(changed: [conf]), loaded: loaded, current: loaded, conf: conf, live: same))
        XCTAssertEqual(PgpoolServiceStep.action(state(changed: [hba]), loaded: loaded, current: loaded, conf: conf, live: same),
                       .reload("pool_hba.conf changed (reloadable)"))
        same["delegate_ip"] = "10.77.0.103"
        XCTAssertEqual(PgpoolServiceStep.action(state(changed: []), loaded: loaded, current: loaded, conf: conf, live: same),
                       .restart("runs with other delegate_IP (read at start only)"))
    }

    /// A converged node as recorded on the bed (pgpool-II 4.3.5, Debian 12): every setting of
    /// the rendered pgpool.conf is what `pgpool show all` reports, though pgpool appends units
    /// (`2s`, `10000000B`), masks passwords (`*****`) and lists keys in lower case (`delegate_ip`).
    func testRecordedShowAllMatchesTheRenderedFile() throws {
        let live = PgpoolConf.showAll(try String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/pgpool/show-all-4.3.5-node1.txt", encoding: .utf8))
        let file = try String(contentsOfFile: "\(repositoryRoot)/Tests/Golden/testbed-pgpool/node1/etc/pgpool2/pgpool.conf", encoding: .utf8)
        XCTAssertEqual(live["wd_interval"], "2s")
        XCTAssertEqual(live["delegate_ip"], "10.77.0.102")
        XCTAssertEqual(PgpoolConf.liveDifferences(file: file, live: live), [])
        XCTAssertEqual(PgpoolConf.liveDifferences(file: file.replacingOccurrences(of: "wd_interval = 2", with: "wd_interval = 3"), live: live), ["wd_interval"])
        XCTAssertEqual(PgpoolConf.liveDifferences(file: file.replacingOccurrences(of: "delegate_IP = '10.77.0.102'", with: "delegate_IP = '10.77.0.103'"), live: live), ["delegate_IP"])
        XCTAssertFalse(PgpoolConf.same(file: "2", running: "20s"))
        XCTAssertFalse(PgpoolConf.same(file: "'on'", running: "off"))
    }

    /// pgpool-II 4.6.1 as recorded on a Debian 13 bed host: every setting agrees with the
    /// rendered file except delegate_ip, which it shows as `IntervalStyle` while it runs with the
    /// file's address; that value is compared with the file pgpool was started with instead.
    func testRecorded461MisreportsDelegateIP() throws {
        let live = PgpoolConf.showAll(try String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/pgpool/show-all-4.6.1-node1.txt", encoding: .utf8))
        let file = try String(contentsOfFile: "\(repositoryRoot)/Tests/Golden/testbed-pgpool-debian13/node1/etc/pgpool2/pgpool.conf", encoding: .utf8)
        XCTAssertEqual(live["delegate_ip"], "IntervalStyle")
        XCTAssertEqual(live["unix_socket_directories"], "/tmp", "recorded while the file still said socket_dir, which 4.6 ignores")
        XCTAssertTrue(PgpoolConf.misreported("delegate_IP", running: "IntervalStyle"))
        XCTAssertFalse(PgpoolConf.misreported("delegate_IP", running: "10.77.0.102"))
        XCTAssertFalse(PgpoolConf.misreported("delegate_IP", running: "fd00::66"))
        // Without the file pgpool started with: not compared; with it: as the files say.
        XCTAssertEqual(PgpoolConf.liveDifferences(file: file, live: live).filter { $0 != "unix_socket_directories" }, [])
        XCTAssertEqual(PgpoolConf.liveDifferences(file: file, live: live, loaded: file).filter { $0 != "unix_socket_directories" }, [])
        let moved = file.replacingOccurrences(of: "delegate_IP = '10.77.0.102'", with: "delegate_IP = '10.77.0.103'")
        XCTAssertEqual(PgpoolConf.liveDifferences(file: moved, live: live, loaded: file).filter { $0 != "unix_socket_directories" }, ["delegate_IP"])
    }

    func testPgpoolDialects() {
        XCTAssertEqual(PgpoolSpec.Dialect.detect(versionOutput: "pgpool-II version 4.1.4 (karasukiboshi)"), .v4_0)
        XCTAssertEqual(PgpoolSpec.Dialect.detect(versionOutput: "pgpool-II version 4.3.5 (tamahomeboshi)"), .v4_2)
        XCTAssertEqual(PgpoolSpec.Dialect.detect(versionOutput: "pgpool-II version 4.6.1 (chirikoboshi)"), .v4_5)
    }
}
