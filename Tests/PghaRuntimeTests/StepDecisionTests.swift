import Foundation
import PghaRender
import PghaRuntime
import PghaSpec
import XCTest

/// Every step's decision, table-driven from facts recorded on the 3-node test bed
/// (Tests/Fixtures/facts/: `PGHA_DUMP_FACT_SCRIPTS=DIR pgha plan specs/testbed.yaml` on bare hosts
/// and again after `pgha apply`, with PGHA_REPLICATION_PASSWORD=fixture-repl and
/// PGHA_HACLUSTER_PASSWORD=fixture-ha; the `packages:resource-agents` section was added later,
/// recorded with the same probe on the installation the Debian 12 bed's hosts share). Drifted
/// and refused cases change one recorded section the way a host would show it.
final class StepDecisionTests: XCTestCase {
    static let passwords = ("fixture-repl", "fixture-ha")

    /// specs/testbed.yaml as it was when the facts were recorded: before pgha's failover defaults
    /// (xlog_check_count, the monitor intervals, wal_receiver_timeout, dc-deadtime: README,
    /// "Failover speed"), which the recorded CIB and postgresql.conf do not have yet. The tuned spec's own CIB is checked against real pcs
    /// output in ClusterConfigTests (Tests/Fixtures/cib-testbed-*.xml).
    func spec() throws -> ClusterSpec {
        var spec = try loadSpec("testbed")
        spec.pacemaker.xlogCheckCount = nil
        spec.pacemaker.operations = SeedDefaults.pgsqlOperations
        spec.postgresql.settings.removeAll { $0.key == "wal_receiver_timeout" }
        spec.pacemaker.properties.removeAll { $0.key == "dc-deadtime" }
        return spec
    }

    func catalog(_ spec: ClusterSpec? = nil, rebuild: Set<String> = [], haclusterPassword: String = passwords.1) throws -> StepCatalog {
        let spec = try spec ?? self.spec()
        let files = try Renderer(spec: spec, dialect: .v0_11, secrets: { _ in Self.passwords.0 }).renderAll()
        return try bootstrapCatalog(spec, dialect: .v0_11, files: files, rebuild: rebuild, passwords: (Self.passwords.0, haclusterPassword))
    }

    enum State: String { case bare, converged, failedOver = "failed-over" }

    func facts(_ host: String, _ state: State, _ overrides: [String: String] = [:]) throws -> Facts {
        let text = try String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/facts/testbed-\(state.rawValue)/\(host).facts", encoding: .utf8)
        var sections = FactScript(marker: FactScript.fixtureMarker).parse(text)
        XCTAssertFalse(sections.isEmpty, "\(host) \(state)")
        for (name, value) in overrides {
            XCTAssertNotNil(sections[name], "\(name) is not a recorded section of \(host)")
            sections[name] = value
        }
        return Facts(sections)
    }

    enum Expected: CustomStringConvertible {
        case right
        case change(Change.Action, String)
        case refused(String)
        var description: String {
            switch self {
            case .right: return "already right"
            case let .change(action, text): return "\(action) …\(text)…"
            case let .refused(text): return "refused …\(text)…"
            }
        }
    }

    func check(_ step: any Step, _ facts: Facts, _ expected: Expected, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            let change = try step.decide(facts)
            switch (expected, change) {
            case (.right, nil): break
            case let (.change(action, text), change?) where change.action == action && change.summary.contains(text): break
            default: XCTFail("\(label): expected \(expected), got \(change.map { "\($0.action) \($0.summary)" } ?? "already right")", file: file, line: line)
            }
        } catch {
            guard case let .refused(text) = expected, "\(error)".contains(text) else {
                return XCTFail("\(label): expected \(expected), got refused: \(error)", file: file, line: line)
            }
        }
    }

    /// Bare hosts as the test bed starts them: packages there, Debian's main cluster running, nothing of pgha's.
    func testBareHosts() throws {
        let primary: [String: Expected] = [
            "hosts-file": .change(.update, "/etc/hosts"), "cluster-packages": .right, "postgresql-packages": .right,
            "distribution-cluster": .change(.update, "stop 15/main (pristine)"), "os-user": .right,
            "directories": .change(.create, "create /var/lib/postgresql/15/pgha"), "profile": .change(.create, ".bash_profile"),
            "pgpass": .change(.create, ".pgpass"), "initdb": .change(.create, "initdb /var/lib/postgresql/15/pgha"),
            "postgresql-conf": .change(.create, "postgresql.conf"), "pg-hba": .change(.create, "pg_hba.conf"),
            "start-primary": .change(.update, "start PostgreSQL"), "replication-user": .change(.create, "create role repluser"),
            "stop-primary": .right, "hacluster-password": .change(.update, "hacluster password"), "pcsd": .right,
            "corosync-default": .change(.delete, "'debian'"), "pgsql-agent-fix": .change(.update, "crm_attribute --promotion"),
            "pcs-auth": .change(.update, "authenticate node1, node2, node3"), "cluster-setup": .change(.create, "create cluster pgha-testbed"),
            "cluster-start": .change(.update, "wait for quorum"), "cib-push": .change(.create, "one cib-push"), "verify": .change(.update, "promoted on no node"),
            "rewind-grants": .right, "replication-password": .right, "rejoin": .right, "cluster-nodes": .right,
        ]
        var standby = primary.filter { !["initdb", "start-primary", "replication-user", "stop-primary", "pcs-auth", "cluster-setup",
                                         "cluster-start", "cluster-nodes", "cib-push", "verify"].contains($0.key) }
        standby["basebackup"] = .change(.create, "pg_basebackup from node1")
        standby["verify-streaming"] = .change(.update, "start as a standby of node1")
        standby["stop-standby"] = .right
        let catalog = try catalog()
        for host in ["node1", "node2", "node3"] {
            let facts = try facts(host, .bare)
            let table = host == "node1" ? primary : standby
            let steps = catalog.steps.filter { $0.host == host }
            XCTAssertEqual(Set(steps.map(\.name)), Set(table.keys), host)
            for step in steps { check(step, facts, table[step.name] ?? .right, step.id) }
        }
    }

    /// After apply: every step is already right (the real hashes and digests: the hacluster
    /// password against /etc/shadow's crypt hash, .pgpass by sha256).
    func testConvergedHosts() throws {
        let catalog = try catalog()
        for host in ["node1", "node2", "node3"] {
            let facts = try facts(host, .converged)
            for step in catalog.steps where step.host == host { check(step, facts, .right, step.id) }
        }
        // Another password is seen as drift, by the same comparison.
        let other = try XCTUnwrap(try self.catalog(haclusterPassword: "another").step("node2/hacluster-password"))
        check(other, try facts("node2", .converged), .change(.update, "hacluster password"), "other password")
    }

    /// One recorded section changed as a drifted or hostile host would print it.
    func testDriftedAndRefused() throws {
        let cases: [(id: String, state: State, overrides: [String: String], rebuild: Set<String>, expected: Expected)] = [
            // Before the cluster exists (bootstrap): a data directory with files but no PostgreSQL
            // cluster is never initialised or cloned over…
            ("node1/initdb", .converged, ["cluster.managed": "no", "pg.datadir": "entries=3"], [], .refused("is not empty and holds no PostgreSQL cluster")),
            ("node2/basebackup", .converged, ["cluster.managed": "no", "pg.datadir": "entries=5"], [], .refused("pgha never clones over existing files")),
            // …unless --rebuild names the node: then it is moved aside, shown as destructive.
            ("node1/initdb", .converged, ["cluster.managed": "no", "pg.datadir": "entries=3"], ["node1"], .change(.destructive, "aside to /var/lib/postgresql/15/pgha.pgha-old-20261202-000000")),
            // A clone is finished when pg_basebackup wrote backup_manifest, of this cluster when
            // its system identifier is the primary's; pgha's own clone cut short is made again.
            ("node2/basebackup", .converged, ["cluster.managed": "no", "pg.clone-pending": "20261201-101010"], [], .change(.destructive, "the clone pgha started in run 20261201-101010 did not finish: move the partial copy aside")),
            ("node2/basebackup", .converged, ["cluster.managed": "no", "pg.datadir": "entries=21\n15"], [], .refused("holds a PostgreSQL cluster that is not a finished clone (no backup_manifest")),
            ("node2/basebackup", .converged, ["cluster.managed": "no", "pg.system-identifier": "7311111111111111111", "pg.primary-system-identifier": "7322222222222222222"], [],
             .refused("holds another cluster's data (system identifier 7311111111111111111; the primary's is 7322222222222222222)")),
            ("node2/basebackup", .converged, ["cluster.managed": "no"], ["node2"], .change(.destructive, "pg_basebackup from the current primary (rw VIP 10.77.0.100) (--rebuild node2)")),
            ("node2/basebackup", .converged, ["cluster.managed": "no", "pg.rw-vip": "down"], ["node2"], .change(.destructive, "pg_basebackup from node1 (10.77.0.11) (--rebuild node2)")),
            // A node joining a running cluster clones from the primary behind the rw VIP, and
            // Pacemaker starts it (not pg_ctl).
            ("node2/basebackup", .converged, ["cluster.managed": "no", "pg.datadir": "absent", "pg.rw-vip": "up"], [], .change(.create, "pg_basebackup from the current primary (rw VIP 10.77.0.100)")),
            ("node2/verify-streaming", .converged, ["cluster.managed": "no", "pg.running": "no", "pg.rw-vip": "up"], [], .right),
            ("node2/verify-streaming", .converged, ["cluster.managed": "no", "pg.running": "no", "pg.streaming": "", "pg.rw-vip": "down"], [], .change(.update, "start as a standby of node1 (10.77.0.11)")),
            // The members follow the spec: a node added joins, one removed leaves (not the primary).
            ("node1/cluster-nodes", .converged, ["corosync.members": "ring0_addr: 10.77.0.11\nname: node1\nring0_addr: 10.77.0.12\nname: node2"], [],
             .change(.create, "add node3 to the cluster (pcs cluster node add node3 addr=10.77.0.13 --start")),
            ("node1/cluster-nodes", .converged, ["corosync.members": "name: node1\nname: node2\nname: node3\nname: node4"], [],
             .change(.delete, "remove node4 from the cluster (pcs cluster node remove: Pacemaker stops PostgreSQL there first); its data directory /var/lib/postgresql/15/pgha is left in place")),
            ("node1/cluster-nodes", .converged, ["corosync.members": "name: node2\nname: node3\nname: node9",
                                                 "crm_mon": Self.recorded("node1", .converged, "crm_mon").replacingOccurrences(of: "\"node1\"", with: "\"node9\"")], [],
             .refused("node9 is the primary now and is no longer in the spec; pgha does not remove the primary. Move the primary first (pgha switchover")),
            ("node1/cluster-nodes", .converged, ["corosync.members": "name: node1\nname: node2\nname: node3\nname: $(reboot)"], [], .refused("no plain node name")),
            ("node1/cluster-nodes", .converged, ["corosync.members": "ring0_addr: node1\nring0_addr: node2\nring0_addr: node3"], [], .right),
            ("node1/cluster-nodes", .bare, [:], [], .right),
            // Another cluster's corosync.conf (Debian's default, one not of this spec) is cluster-setup's, never joined.
            ("node1/cluster-nodes", .converged, ["corosync.name": "payroll"], [], .right),
            // In a running cluster a node's data is the rejoin step's: initdb and basebackup stand back.
            ("node1/initdb", .converged, ["pg.datadir": "absent"], [], .right),
            ("node2/basebackup", .converged, ["pg.datadir": "absent"], ["node2"], .right),
            // --rebuild of a running standby: stopped here, moved aside, cloned from the current primary.
            ("node2/rejoin", .converged, [:], ["node2"], .change(.destructive, "stop the standby here (crm_resource --ban, cleared afterwards), move /var/lib/postgresql/15/pgha aside")),
            ("node1/rejoin", .converged, [:], ["node1"], .refused("node1 is the primary; pgha does not rebuild the primary: switch over")),
            // After a failover (recorded: node1's walsenders stopped, 2 rows committed, kill -9):
            // the old primary's commits past node2's fork point are named and make it destructive.
            ("node1/rejoin", .failedOver, [:], [], .change(.destructive, "diverged at 0/4080468 from node2's timeline 3: 2 transactions committed on node1 at 0/4080468–0/40805F0")),
            ("node2/rejoin", .failedOver, [:], [], .right),
            ("node1/initdb", .failedOver, [:], [], .right),
            ("node1/start-primary", .failedOver, [:], [], .right),
            ("node1/replication-user", .failedOver, [:], [], .right),
            ("node2/rewind-grants", .failedOver, [:], [], .right),
            // The replication password follows the spec on whichever node is primary (converged:
            // recorded with fixture-repl; the standbys hold the same role and leave it alone).
            ("node1/replication-password", .converged, [:], [], .right),
            ("node1/replication-password", .converged, ["pg.replication-password": "scram 4096 DZi62U2Cxaz105JaY281FQ== 00000000000000000000000000000000"], [],
             .change(.update, "set role repluser's password")),
            ("node2/replication-password", .converged, ["pg.replication-password": "scram 4096 DZi62U2Cxaz105JaY281FQ== 00000000000000000000000000000000"], [], .right),
            ("node1/replication-password", .converged, ["pg.replication-password": "absent"], [], .right),
            ("node1/replication-user", .converged, ["cluster.managed": "no", "pg.replication-password": "md5 5523cf28d15c0d9958de420809810ece"], [],
             .change(.update, "set role repluser's password")),
            ("node2/rewind-grants", .failedOver, ["pg.rewind-grants": "false"], [], .change(.update, "grant repluser EXECUTE on pg_ls_dir")),
            ("node1/rewind-grants", .failedOver, ["pg.rewind-grants": "false"], [], .right),
            // No commit past the fork: a rewind loses nothing, an update.
            ("node1/rejoin", .failedOver, ["node.divergence": Self.divergence(commits: 0)], [], .change(.update, "by 6 records, no commit among them: pg_rewind onto node2 (10.77.0.100)")),
            // Its WAL ends before the fork: it follows as it is.
            ("node1/rejoin", .failedOver, ["node.divergence": Self.divergence(records: 0, commits: 0)], [], .change(.update, "holds nothing node2 lacks")),
            // Same timeline as the primary while it was a primary: only a clone is safe.
            ("node1/rejoin", .failedOver, ["node.divergence": "identify=7714784320899220093|2|0/4080600|"], [], .change(.destructive, "move /var/lib/postgresql/15/pgha aside")),
            ("node1/rejoin", .failedOver, ["node.divergence": "identify=7311111111111111111|3|0/4080600|\nhistory=2\t0/4080468\tno recovery target specified"], [],
             .refused("holds another cluster's data (system identifier")),
            ("node1/rejoin", .failedOver, ["node.divergence": ""], [], .refused("does not answer replication connections on 10.77.0.100")),
            // Nothing failed and no lock: Pacemaker is starting or stopping it; nothing to do.
            ("node1/rejoin", .failedOver, ["node.lock": "absent", "crm_mon": Self.withoutFailures], [], .right),
            ("node1/rejoin", .failedOver, ["node.lock": "link"], [], .refused("PGSQL.lock is a symbolic link")),
            ("node1/rejoin", .failedOver, ["crm_mon": ""], [], .change(.update, "Pacemaker does not run on node1: start it here")),
            // A node left pending (shown as standby too): restarted, not taken for an operator's standby.
            ("node1/rejoin", .failedOver, ["crm_mon": Self.pendingAfterFence], [], .change(.update, "node1 is pending in the cluster")),
            // Another node pending and no primary behind the rw VIP: wait for it, not a refusal.
            ("node1/rejoin", .failedOver, ["crm_mon": Self.node3Pending, "node.divergence": ""], [], .change(.update, "while node3 is pending in the cluster: wait until node2 answers")),
            // The failed actions of a resource that runs again are cleared, named.
            ("node2/rejoin", .converged, ["crm_mon": Self.converged2WithFailure], [], .change(.update, "clear the failed actions vip-slave_monitor_10000")),
            ("node2/directories", .converged,
             ["directories": "/var/lib/postgresql/15/pgha 755 root root directory\n/var/lib/postgresql/15/archive 700 postgres postgres directory\n/var/lib/postgresql/15/pgsql-tmp 700 postgres postgres directory\n/var/lib/postgresql 755 postgres postgres directory"],
             [], .change(.update, "/var/lib/postgresql/15/pgha 755 root:root → 700 postgres:postgres")),
            // The PostgreSQL user swapped a managed path for a link: refused, never followed.
            ("node2/directories", .converged,
             ["directories": "/var/lib/postgresql/15/pgha 700 postgres postgres directory\n/var/lib/postgresql/15/archive 777 postgres postgres symbolic link\n/var/lib/postgresql/15/pgsql-tmp 700 postgres postgres directory\n/var/lib/postgresql 755 postgres postgres directory"],
             [], .refused("/var/lib/postgresql/15/archive is a symbolic link (owned by postgres); pgha never changes owners or modes through one")),
            ("node2/directories", .converged,
             ["directories": "/var/lib/postgresql/15/pgha 600 postgres postgres regular file\n/var/lib/postgresql/15/archive 700 postgres postgres directory\n/var/lib/postgresql/15/pgsql-tmp 700 postgres postgres directory\n/var/lib/postgresql 755 postgres postgres directory"],
             [], .refused("/var/lib/postgresql/15/pgha is a regular file, not a directory")),
            ("node2/pgpass", .converged, ["file:/var/lib/postgresql/.pgpass": "symlink"], [], .refused("/var/lib/postgresql/.pgpass is a symbolic link; pgha never writes through one")),
            ("node2/postgresql-conf", .converged, ["file:/var/lib/postgresql/15/pgha/postgresql.conf": "other"], [], .refused("postgresql.conf is not a regular file")),
            ("node2/pcsd", .converged, ["pcsd": "inactive enabled 0"], [], .change(.update, "start pcsd")),
            ("node2/pcsd", .converged, ["pcsd": "active disabled 1"], [], .change(.update, "enable pcsd")),
            ("node1/corosync-default", .converged, ["corosync.conf": "name=payroll\nloopback=0\nresources=4"], [], .refused("already in cluster 'payroll'")),
            ("node1/corosync-default", .converged, ["corosync.conf": "name=debian\nloopback=1\nresources=2"], [], .refused("will not destroy another cluster")),
            ("node1/cluster-setup", .converged, ["corosync.name": "payroll"], [], .change(.create, "create cluster pgha-testbed")),
            ("node1/cluster-start", .converged, ["crm_mon": ""], [], .change(.update, "wait for quorum")),
            ("node1/replication-user", .converged, ["cluster.managed": "no", "pg.replication-role": "f"], [], .change(.update, "REPLICATION LOGIN")),
            ("node1/start-primary", .converged, ["cluster.managed": "no", "pg.running": "no"], [], .change(.update, "start PostgreSQL")),
            ("node2/stop-standby", .converged, ["cluster.managed": "no"], [], .change(.update, "stop PostgreSQL")),
            ("node2/verify-streaming", .converged, ["cluster.managed": "no", "pg.streaming": "stopping"], [], .change(.update, "wait until it streams")),
            ("node1/verify", .converged, ["pg.streaming-standbys": "node2"], [], .change(.update, "node3 not streaming from node1")),
            ("node2/distribution-cluster", .bare, ["distribution-cluster": "main 5432 online auto 3"], [], .refused("holds data (3 user databases/tables)")),
            ("node2/distribution-cluster", .bare, ["distribution-cluster": "main 5432 down manual 0"], [], .right),
            ("node2/pgsql-agent-fix", .converged, ["ocf.crm_attribute": "2"], [], .change(.update, "crm_attribute --promotion")),
            ("node2/pgsql-agent-fix", .converged, ["ocf.crm_attribute": "2", "packages:resource-agents": "resource-agents\tinstall ok installed\t1:4.12.0-2\n"], [],
             .change(.update, "(resource-agents 4.12.0 has the call")),
            ("node2/pgsql-agent-fix", .converged, ["ocf.crm_attribute": "0", "packages:resource-agents": "resource-agents\tinstall ok installed\t1:4.16.0-3+deb13u2\n"], [], .right),
            ("node2/pcs-auth", .converged, [:], [], .right),
        ]
        for (n, item) in cases.enumerated() {
            let catalog = try catalog(rebuild: item.rebuild)
            let host = String(item.id.prefix { $0 != "/" })
            guard let step = catalog.step(item.id) else {
                // pcs-auth runs on the primary only.
                XCTAssertEqual(item.id, "node2/pcs-auth")
                continue
            }
            check(step, try facts(host, item.state, item.overrides), item.expected, "case \(n) \(item.id)")
        }
    }

    /// One recorded section of a fixture host.
    static func recorded(_ host: String, _ state: State, _ name: String) -> String {
        let text = (try? String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/facts/testbed-\(state.rawValue)/\(host).facts", encoding: .utf8)) ?? ""
        return FactScript(marker: FactScript.fixtureMarker).parse(text)[name] ?? ""
    }

    /// node1's recorded divergence after the failover, with other counts of records and commits past the fork.
    static func divergence(records: Int = 6, commits: Int) -> String {
        let recorded = Self.recorded("node1", .failedOver, "node.divergence")
        let lines = recorded.split(separator: "\n").filter { !$0.hasPrefix("records=") }.map(String.init)
        let summary = records == 0 ? "records=0 first= last= commits=0 first_commit= last_commit="
            : "records=\(records) first=0/04080468 last=0/040805F0 commits=\(commits) first_commit= last_commit="
        return (lines + [summary]).joined(separator: "\n")
    }

    /// node1's crm_mon after the failover without its failed action and fail count.
    static var withoutFailures: String {
        var xml = recorded("node1", .failedOver, "crm_mon")
        if let start = xml.range(of: "<failures>"), let end = xml.range(of: "</failures>") { xml.removeSubrange(start.lowerBound..<end.upperBound) }
        return xml.replacingOccurrences(of: #" fail-count="1""#, with: "")
    }

    /// crm_mon on node1 after a fence round of the drill on the sync cluster: node1 was back within
    /// a second of its fencing, left out of the DC's join round, and stayed pending (crm_mon also
    /// shows it as standby); node2 promoted, nothing else started (Tests/Fixtures/crm_mon/).
    static var pendingAfterFence: String {
        (try? String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/crm_mon/pending-after-fence.xml", encoding: .utf8)) ?? ""
    }

    /// The same with node3 pending instead of node1.
    static var node3Pending: String {
        pendingAfterFence.components(separatedBy: "\n").map { line in
            line.contains("<node name=\"node1\" id=\"1\"") ? line.replacingOccurrences(of: #"standby="true""#, with: #"standby="false""#).replacingOccurrences(of: #"pending="true""#, with: #"pending="false""#)
                : line.contains("<node name=\"node3\" id=\"3\"") ? line.replacingOccurrences(of: #"pending="false""#, with: #"pending="true""#) : line
        }.joined(separator: "\n")
    }

    /// node2's converged crm_mon with a failed monitor of the ro VIP (it runs again).
    static var converged2WithFailure: String {
        recorded("node2", .converged, "crm_mon").replacingOccurrences(of: "</resources>", with:
            #"</resources><failures><failure op_key="vip-slave_monitor_10000" node="node2" exitstatus="not running" exitreason=""/></failures>"#)
    }

    func testPackagesMissingAndNumbersTheSpecDisagreesWith() throws {
        let recorded = try facts("node2", .converged)
        let packages = try XCTUnwrap(recorded.sections["packages:cluster-packages"])
        let withoutPcs = packages.split(separator: "\n").filter { !$0.hasPrefix("pcs\t") }.joined(separator: "\n")
        check(try XCTUnwrap(try catalog().step("node2/cluster-packages")), try facts("node2", .converged, ["packages:cluster-packages": withoutPcs]),
              .change(.create, "install pcs"), "pcs removed")
        var spec = try spec()
        spec.postgresql.osUser.uid = 4321
        check(try XCTUnwrap(try catalog(spec).step("node2/os-user")), recorded, .refused("the spec says 4321; pgha does not renumber existing users"), "uid")
    }
}

/// The first CIB (Steps/FirstCIBStep.swift): written only where no cluster of ours ever ran, and
/// only for a spec with dc-deadtime (pgha's default); corosync.conf as recorded on the test bed.
final class FirstCIBStepTests: XCTestCase {
    func facts(_ state: String, cibFile: String) throws -> Facts {
        let text = try String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/facts/testbed-\(state)/node2.facts", encoding: .utf8)
        var sections = FactScript(marker: FactScript.fixtureMarker).parse(text)
        XCTAssertNotNil(sections["corosync.conf"])
        sections["pacemaker.cib-file"] = cibFile
        XCTAssertEqual(sections["pg.rw-vip"], state == "bare" ? "down" : "up")
        sections["pg.rw-vip"] = "down"
        return Facts(sections)
    }

    func testDecisions() throws {
        let tuned = try loadSpec("testbed")
        let probes = ServerProbes(spec: tuned, runID: "20261207-000000")
        let step = FirstCIBStep(host: "node2", spec: tuned, probes: probes)
        // Bare: Debian's default cluster, no CIB file: written (after the setup, when its turn comes).
        let bare = try step.decide(facts("bare", cibFile: "absent"))
        XCTAssertEqual(bare?.action, .create)
        XCTAssertTrue(bare?.summary.contains("dc-deadtime=5s") == true, "\(String(describing: bare))")
        // Our cluster, set up but never started: written.
        XCTAssertEqual(try step.decide(facts("converged", cibFile: "absent"))?.action, .create)
        // A CIB exists (the cluster ran here): left to the cib-push step.
        XCTAssertNil(try step.decide(facts("converged", cibFile: "present")))
        XCTAssertNil(try step.decide(facts("bare", cibFile: "present")))
        // Another cluster's corosync.conf: the corosync-default step refuses it, not this one.
        var other = try facts("converged", cibFile: "absent").sections
        other["corosync.conf"] = "name=theirs\nloopback=0\nresources=4"
        XCTAssertNil(try step.decide(Facts(other)))
        // A node joining a running cluster (its rw VIP answers): it gets the DC's CIB instead.
        var joining = try facts("bare", cibFile: "absent").sections
        joining["pg.rw-vip"] = "up"
        XCTAssertNil(try step.decide(Facts(joining)))
        // dc-deadtime not managed (null in the spec): nothing to write.
        var unmanaged = tuned
        unmanaged.pacemaker.properties.removeAll { $0.key == "dc-deadtime" }
        XCTAssertNil(try FirstCIBStep(host: "node2", spec: unmanaged, probes: probes).decide(facts("bare", cibFile: "absent")))
    }
}
