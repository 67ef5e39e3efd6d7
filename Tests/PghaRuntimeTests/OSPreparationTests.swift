import Foundation
import PghaRender
import PghaRuntime
import PghaSpec
import XCTest

final class OSPreparationTests: XCTestCase {
    let ports = FirewallPlan.ports(postgresPort: 5432)

    func testDisabledStopsWhatRuns() throws {
        let plan = try FirewallPlan.commands(mode: .disabled, probe: "firewalld=active\nufw=inactive\nnftables=inactive", ports: ports, host: "db1")
        XCTAssertEqual(plan?.commands.map(\.description), ["systemctl disable --now firewalld"])
        XCTAssertNil(try FirewallPlan.commands(mode: .disabled, probe: "firewalld=inactive\nufw=\n", ports: ports, host: "db1"))
        XCTAssertNil(try FirewallPlan.commands(mode: .unmanaged, probe: "firewalld=active", ports: ports, host: "db1"))
    }

    func testOpenPortsInFirewalldAddsOnlyWhatIsMissing() throws {
        let probe = "firewalld=active\nfirewalld-ports=2224/tcp 22/tcp\nnft-blocking=3"
        let plan = try XCTUnwrap(try FirewallPlan.commands(mode: .open, probe: probe, ports: ports, host: "db1"))
        XCTAssertEqual(plan.commands.map(\.description), ["firewall-cmd --permanent --add-port=5432/tcp", "firewall-cmd --permanent --add-port=5404-5406/udp", "firewall-cmd --reload"])
        XCTAssertNil(try FirewallPlan.commands(mode: .open, probe: "firewalld=active\nfirewalld-ports=5432/tcp 2224/tcp 5404-5406/udp", ports: ports, host: "db1"))
    }

    /// ufw's own output, through the probe's sed, as on a Debian host.
    func testOpenPortsInUfwReadsUfwStatus() throws {
        let status = """
            Status: active

            To                         Action      From
            --                         ------      ----
            22/tcp                     ALLOW       Anywhere
            5432/tcp                   ALLOW       Anywhere
            5404:5406/udp              ALLOW       Anywhere
            5432/tcp (v6)              ALLOW       Anywhere (v6)
            """
        let sed = FirewallPlan.probe.text.split(separator: "\n").first { $0.contains("ufw status") }!
            .replacingOccurrences(of: #"if \[ .* \]; then ufw status 2>/dev/null \| "#, with: "", options: .regularExpression)
            .replacingOccurrences(of: "; fi", with: "")
        let parsed = try runLocally("printf '%s\\n' '\(status)' | \(sed)")
        XCTAssertEqual(parsed, "ufw-allow=22/tcp\nufw-allow=5432/tcp\nufw-allow=5404:5406/udp\nufw-allow=5432/tcp\n")
        let plan = try FirewallPlan.commands(mode: .open, probe: "ufw=active\n" + parsed, ports: ports, host: "db1")
        XCTAssertEqual(plan?.commands.map(\.description), ["ufw allow 2224/tcp"])
    }

    func testRawNftablesThatBlockIsNotGuessedAt() {
        XCTAssertThrowsError(try FirewallPlan.commands(mode: .open, probe: "nftables=active\nnft-blocking=2", ports: ports, host: "db1")) { error in
            XCTAssertTrue("\(error)".contains("not raw nftables rules"), "\(error)")
        }
        XCTAssertNoThrow(try FirewallPlan.commands(mode: .open, probe: "nftables=active\nnft-blocking=0", ports: ports, host: "db1"))
    }

    func state(config: String?, content: String?, units: [String: String]) -> TimeSyncPlan.State {
        var lines = units.map { "unit:\($0.key)=\($0.value)" }
        if let config { lines.append("config=\(config)") }
        if let content { lines.append("content=\(Data(content.utf8).base64EncodedString())") }
        return TimeSyncPlan.State(lines.joined(separator: "\n"))
    }

    func testTimeSyncInstallsConfiguresAndEnables() throws {
        XCTAssertEqual(TimeSyncPlan.actions(service: .chrony, servers: ["ntp1.aliyun.com"], state: state(config: nil, content: nil, units: [:])), [.install])
        let debian = "pool 2.debian.pool.ntp.org iburst\nkeyfile /etc/chrony/chrony.keys\n"
        let actions = TimeSyncPlan.actions(service: .chrony, servers: ["ntp1.aliyun.com"],
                                           state: state(config: "/etc/chrony/chrony.conf", content: debian, units: ["chrony": "active enabled"]))
        XCTAssertEqual(actions, [.configure(path: "/etc/chrony/chrony.conf", content: debian + """
            # BEGIN pgha managed block: time servers of the cluster spec
            server ntp1.aliyun.com iburst
            # END pgha managed block

            """, restart: true)])
        // Configured and running: nothing; configured but stopped: enable.
        let done = debian + TimeSyncPlan.block(servers: ["ntp1.aliyun.com"])
        XCTAssertEqual(TimeSyncPlan.actions(service: .chrony, servers: ["ntp1.aliyun.com"],
                                            state: state(config: "/etc/chrony.conf", content: done, units: ["chronyd": "active enabled"])), [])
        XCTAssertEqual(TimeSyncPlan.actions(service: .chrony, servers: ["ntp1.aliyun.com"],
                                            state: state(config: "/etc/chrony.conf", content: done, units: ["chronyd": "inactive disabled"])), [.enable])
    }

    /// The probe runs for real (no chrony on this machine: it reports nothing to configure from).
    func testTimeSyncProbeRuns() throws {
        let output = try runLocally(TimeSyncPlan.probe(.chrony))
        let state = TimeSyncPlan.State(output)
        XCTAssertEqual(state.configPath == nil, !FileManager.default.fileExists(atPath: "/etc/chrony/chrony.conf") && !FileManager.default.fileExists(atPath: "/etc/chrony.conf"))
        XCTAssertTrue(output.contains("unit:chrony="), output)
    }
}

/// The cluster stack's packages per platform: Debian 13 splits fence-agents per agent.
final class ClusterPackagesTests: XCTestCase {
    func testWanted() {
        let d12 = OSRelease(id: "debian", versionID: "12", idLike: [], prettyName: "Debian GNU/Linux 12 (bookworm)")
        let d13 = OSRelease(id: "debian", versionID: "13", idLike: [], prettyName: "Debian GNU/Linux 13 (trixie)")
        let el9 = OSRelease(id: "rocky", versionID: "9.4", idLike: ["rhel", "centos", "fedora"], prettyName: "Rocky Linux 9.4")
        let base = ["pacemaker", "corosync", "pcs", "resource-agents"]
        XCTAssertEqual(ClusterPackagesStep.wanted(os: d12, fenceTypes: ["fence_ipmilan"], present: []), base + ["fence-agents"])
        XCTAssertEqual(ClusterPackagesStep.wanted(os: el9, fenceTypes: ["fence_ipmilan"], present: []), base + ["fence-agents"])
        XCTAssertEqual(ClusterPackagesStep.wanted(os: d13, fenceTypes: ["fence_ipmilan", "fence_apc_snmp"], present: []),
                       base + ["fence-agents-common", "fence-agents-ipmilan", "fence-agents-apc-snmp"])
        // An agent already there (the test bed's fence_testbed) needs no package.
        XCTAssertEqual(ClusterPackagesStep.wanted(os: d13, fenceTypes: ["fence_testbed"], present: ["fence_testbed"]), base + ["fence-agents-common"])
        XCTAssertEqual(ClusterPackagesStep(host: "n", dialect: .v0_11, fenceTypes: ["fence_x;rm", "fence_ipmilan", "fence_ipmilan"]).fenceTypes, ["fence_ipmilan"])
    }
}
