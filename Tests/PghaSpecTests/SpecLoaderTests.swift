import Foundation
import PghaSpec
import XCTest

/// The repository's root, found from this file's path, so tests read the committed specs and fixtures.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

final class SpecLoaderTests: XCTestCase {
    func load(_ yaml: String) -> LoadResult<ClusterSpec> { SpecLoader.load(yaml: yaml, file: "t.yaml") }

    func testCommittedSpecsAreValid() throws {
        for name in ["seed-000", "seed-001", "testbed", "testbed-sync", "testbed-source", "seed-004", "testbed-pgpool"] {
            let result = SpecLoader.load(path: "\(repositoryRoot)/specs/\(name).yaml", displayPath: "specs/\(name).yaml")
            XCTAssertFalse(result.diagnostics.hasErrors, "\(name): \(result.diagnostics)")
            XCTAssertNotNil(result.value, name)
        }
    }

    func testSeed000IsExpressedWithTheSeedsValues() throws {
        let spec = try XCTUnwrap(SpecLoader.load(path: "\(repositoryRoot)/specs/seed-000.yaml").value)
        XCTAssertEqual(spec.nodes.map(\.name), ["db1", "db2", "db3"])
        XCTAssertEqual(spec.nodes.map(\.address), ["192.168.0.31", "192.168.0.32", "192.168.0.33"])
        XCTAssertEqual(spec.vips.readWrite.ip, "192.168.0.28")
        XCTAssertEqual(spec.vips.readOnly?.ip, "192.168.0.29")
        XCTAssertEqual(spec.vips.readWrite.nic, "ens33")
        XCTAssertEqual(spec.postgresql.install.method, .source)
        XCTAssertEqual(spec.postgresql.install.sourceVersion, "11.10")
        XCTAssertEqual(spec.postgresql.binDir, "/opt/pg1110/bin")
        XCTAssertEqual(spec.postgresql.dataDir, "/opt/pgdata1110")
        XCTAssertEqual(spec.postgresql.osUser.group, "dba")
        XCTAssertEqual(spec.postgresql.osUser.uid, 1000)
        XCTAssertEqual(spec.pacemaker.pcsDialect, .v0_9)
        XCTAssertFalse(spec.pacemaker.stonithEnabled)
        let settings = Dictionary(spec.postgresql.settings.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        XCTAssertEqual(settings["wal_keep_segments"], "100")
        XCTAssertEqual(settings["archive_command"], "cp %p /opt/pgarchive/%f")
        XCTAssertEqual(settings["log_line_prefix"], "%t [%p]: db=%d,user=%u,app=%a,client=%h ")
    }

    /// A device that names no nodes asks its agent which it fences: coverage cannot be judged, so
    /// no error (the errors when every device names its nodes: Tests/Fixtures/invalid/fencing-coverage.yaml).
    func testFencingCoverageWithADeviceThatAsksItsAgent() throws {
        let path = "\(repositoryRoot)/Tests/Fixtures/invalid/fencing-coverage.yaml"
        let yaml = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "dbb4:4", with: "db1:1")
        let partial = SpecLoader.load(yaml: yaml, file: "f.yaml").diagnostics.map(\.description)
        XCTAssertEqual(partial.count, 1)
        XCTAssertTrue(partial.first?.contains("no device can fence db3") == true, "\(partial)")
        let dynamic = yaml + "    - {name: xvm, type: fence_xvm}\n"
        XCTAssertEqual(SpecLoader.load(yaml: dynamic, file: "f.yaml").diagnostics.map(\.description), [])
        // Pacemaker's own example of a map (ports after the node, a comma between two ports).
        let ports = yaml.replacingOccurrences(of: "db2:2;db1:1", with: "db2:2,5; db3=3")
        XCTAssertEqual(SpecLoader.load(yaml: ports, file: "f.yaml").diagnostics.map(\.description), [])
        // pcmk_host_check none or dynamic-list: the list does not limit the device.
        let unchecked = yaml.replacingOccurrences(of: "pcmk_host_list: \"db1,db2\"", with: "pcmk_host_list: \"db1,db2\", pcmk_host_check: none")
        XCTAssertEqual(SpecLoader.load(yaml: unchecked, file: "f.yaml").diagnostics.map(\.description), [])
    }

    /// Every file in Tests/Fixtures/invalid gives exactly the diagnostics of its .expected file.
    func testInvalidFixturesGiveTheExactDiagnostics() throws {
        let directory = "\(repositoryRoot)/Tests/Fixtures/invalid"
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 12)
        for name in names {
            let expectedPath = "\(directory)/\((name as NSString).deletingPathExtension).expected"
            let expected = try String(contentsOfFile: expectedPath, encoding: .utf8)
            let result = SpecLoader.load(path: "\(directory)/\(name)", displayPath: name)
            let actual = result.diagnostics.map { $0.description + "\n" }.joined()
            XCTAssertEqual(actual, expected, "diagnostics of \(name)")
            XCTAssertNil(result.value, "\(name) must not load")
        }
    }

    func testDirectoryMissingAndHugeFilesAreClearErrors() throws {
        let temporary = NSTemporaryDirectory() + "pgha-spec-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        XCTAssertEqual(SpecLoader.load(path: temporary, displayPath: "dir").diagnostics.first?.description,
                       "dir: error: is a directory, not a YAML file")
        XCTAssertEqual(SpecLoader.load(path: temporary + "/nope.yaml", displayPath: "nope.yaml").diagnostics.first?.description,
                       "nope.yaml: error: no such file; check the path")
        let huge = temporary + "/huge.yaml"
        FileManager.default.createFile(atPath: huge, contents: Data(repeating: UInt8(ascii: "#"), count: 3 << 20))
        XCTAssertEqual(SpecLoader.load(path: huge, displayPath: "huge.yaml").diagnostics.first?.description,
                       "huge.yaml: error: is larger than 1024 KiB; a cluster spec is a few KiB, is this the right file?")
    }

    func testManyAliasesAreRefusedBeforeParsing() {
        let yaml = (0..<300).map { "k\($0): *a" }.joined(separator: "\n")
        let result = load("a: &a 1\n" + yaml)
        XCTAssertEqual(result.diagnostics.map(\.message), ["uses more than 256 aliases (*name); refusing to expand it"])
    }

    static let minimal = """
        cluster: {name: c}
        nodes:
          - {name: n1, address: 10.1.0.1}
          - {name: n2, address: 10.1.0.2}
          - {name: n3, address: 10.1.0.3}
        vips:
          read_write: {ip: 10.1.0.100, nic: eth0, cidr_netmask: 24}
        postgresql:
          version: 16
          install: {method: package, distribution: debian}
          data_dir: /srv/pg
        replication:
          password: {file: /etc/pgha/repl}
        pacemaker:
          pcs_dialect: "0.11"
          hacluster_password: {env: HA}
          fencing: [{name: f1, type: fence_xvm}]

        """

    /// The failover keys: the agent's xlog_check_count (1–10, absent: the agent's own 3) and the
    /// two pgsql monitors, which Pacemaker needs at different intervals.
    func testFailoverTimingKeys() throws {
        func pgsql(_ block: String) -> LoadResult<ClusterSpec> {
            load(Self.minimal.replacingOccurrences(of: "  fencing: [{name: f1, type: fence_xvm}]\n",
                                                   with: "  fencing: [{name: f1, type: fence_xvm}]\n  pgsql:\n" + block))
        }
        let tuned = pgsql("    xlog_check_count: 1\n    operations:\n      monitor: {interval: 2s}\n      monitor_promoted: {interval: 1s}\n")
        let spec = try XCTUnwrap(tuned.value, "\(tuned.diagnostics)")
        XCTAssertEqual(spec.pacemaker.xlogCheckCount, 1)
        XCTAssertEqual(spec.pacemaker.operations.filter { $0.name == "monitor" }.map(\.interval), ["2s", "1s"])
        XCTAssertEqual(load(Self.minimal).value?.pacemaker.xlogCheckCount, 1, "absent: pgha's default")
        XCTAssertNil(pgsql("    xlog_check_count: null\n").value?.pacemaker.xlogCheckCount, "null: the agent's default")
        for bad in ["0", "11", "two"] {
            XCTAssertNil(pgsql("    xlog_check_count: \(bad)\n").value, bad)
        }
        let clash = pgsql("    operations:\n      monitor: {interval: 2s}\n      monitor_promoted: {interval: 2000ms}\n")
        XCTAssertNil(clash.value)
        XCTAssertTrue(clash.diagnostics.contains { $0.message.contains("pacemaker.pgsql.operations.monitor_promoted.interval") && $0.message.contains("different intervals") },
                      "\(clash.diagnostics)")
    }

    func testNullRemovesAnOwnDefault() throws {
        let yaml = Self.minimal.replacingOccurrences(of: "  fencing:", with: "  properties: {dc-deadtime: null, batch-limit: 4}\n  fencing:")
            .replacingOccurrences(of: "postgresql:\n", with: "postgresql:\n  settings: {wal_receiver_timeout: ~, work_mem: 8MB}\n")
        let result = load(yaml)
        let spec = try XCTUnwrap(result.value, "\(result.diagnostics)")
        XCTAssertEqual(spec.pacemaker.properties.map(\.key), ["batch-limit"])
        XCTAssertFalse(spec.postgresql.settings.contains { $0.key == "wal_receiver_timeout" })
        XCTAssertTrue(spec.postgresql.settings.contains { $0.key == "work_mem" && $0.value == "8MB" })
        let defaults = try XCTUnwrap(load(Self.minimal).value)
        XCTAssertEqual(defaults.pacemaker.properties.map { "\($0.key)=\($0.value)" }, ["dc-deadtime=5s"])
        XCTAssertTrue(defaults.postgresql.settings.contains { $0.key == "wal_receiver_timeout" && $0.value == "5s" })
    }

    func testDefaultsComeFromTheSeeds() throws {
        let result = load(Self.minimal)
        let spec = try XCTUnwrap(result.value, "\(result.diagnostics)")
        XCTAssertEqual(spec.primary, "n1")
        XCTAssertEqual(spec.replication.user, "repluser")
        XCTAssertEqual(spec.replication.mode, .async)
        XCTAssertEqual(spec.postgresql.port, 5432)
        XCTAssertEqual(spec.postgresql.binDir, "/usr/lib/postgresql/16/bin")
        XCTAssertEqual(spec.postgresql.osUser.home, "/var/lib/postgresql")
        XCTAssertEqual(spec.vips.readWrite.resource, "vip-master")
        XCTAssertEqual(spec.pacemaker.pgsqlClone, "msPostgresql")
        XCTAssertEqual(spec.pacemaker.clone.cloneMax, 5)
        XCTAssertEqual(spec.pacemaker.resourceDefaults.map(\.key), ["resource-stickiness", "migration-threshold"])
        let keys = spec.postgresql.settings.map(\.key)
        XCTAssertTrue(keys.contains("wal_keep_size"), "PostgreSQL 16 uses wal_keep_size")
        XCTAssertFalse(keys.contains("wal_keep_segments"))
        XCTAssertFalse(keys.contains("archive_mode"), "no archive_dir, no archiving")
        // pgha's failover timings (Defaults.swift, PghaDefaults), the seeds' other operations.
        XCTAssertEqual(spec.pacemaker.operations.filter { $0.name == "monitor" }.map(\.interval), ["2s", "1s"])
        XCTAssertEqual(spec.pacemaker.operations.first { $0.name == "stop" }?.onFail, "block")
    }

    func testOperationOverridesChangeOneField() throws {
        let yaml = Self.minimal.replacingOccurrences(of: "  fencing:", with: "  pgsql:\n    operations: {monitor_promoted: {timeout: 30s}, stop: {on_fail: fence}}\n  fencing:")
        let spec = try XCTUnwrap(load(yaml).value)
        let promoted = try XCTUnwrap(spec.pacemaker.operations.first { $0.role == "promoted" })
        XCTAssertEqual(promoted.timeout, "30s")
        XCTAssertEqual(promoted.interval, "1s", "the default interval kept")
        XCTAssertEqual(spec.pacemaker.operations.first { $0.name == "stop" }?.onFail, "fence")
    }

    func testSyncModeRejectsSynchronousStandbyNames() {
        let yaml = Self.minimal
            .replacingOccurrences(of: "  password: {file: /etc/pgha/repl}", with: "  password: {file: /etc/pgha/repl}\n  mode: sync")
            .replacingOccurrences(of: "  data_dir: /srv/pg", with: "  data_dir: /srv/pg\n  settings: {synchronous_standby_names: '*'}")
        XCTAssertEqual(load(yaml).diagnostics.map(\.description), [
            "t.yaml:12:41: error: postgresql.settings.synchronous_standby_names: the pgsql agent manages it in sync mode and refuses to start when postgresql.conf sets it; remove it",
        ])
    }

    /// Upstream's tarball name and Debian's orig tarball name both give the version.
    func testSourceTarballNames() throws {
        func source(_ tarball: String, extra: String = "", version: Int = 15) -> LoadResult<ClusterSpec> {
            load(Self.minimal
                .replacingOccurrences(of: "  version: 16", with: "  version: \(version)")
                .replacingOccurrences(of: "  install: {method: package, distribution: debian}",
                                      with: "  install: {method: source, tarball: \(tarball), prefix: /opt/pg\(extra)}"))
        }
        for (name, version) in [("postgresql-15.20.tar.gz", "15.20"), ("postgresql-15.20.tar.bz2", "15.20"),
                                ("postgresql-15_15.20.orig.tar.bz2", "15.20"), ("postgresql-15_15.8.orig.tar.gz", "15.8")] {
            let result = source("/var/tmp/src/\(name)")
            XCTAssertEqual(result.value?.postgresql.install.sourceVersion, version, "\(name): \(result.diagnostics)")
            XCTAssertEqual(result.value?.postgresql.binDir, "/opt/pg/bin", name)
        }
        XCTAssertEqual(source("/x/postgresql-11_11.10.orig.tar.bz2", version: 11).value?.postgresql.install.sourceVersion, "11.10")
        // The major in Debian's package name must be the tarball's.
        XCTAssertEqual(source("/x/postgresql-15_16.1.orig.tar.bz2").diagnostics.map(\.message), [
            "postgresql.install.tarball: cannot read the version from 'postgresql-15_16.1.orig.tar.bz2'; name it postgresql-X.Y.tar.gz (upstream) or postgresql-X_X.Y.orig.tar.bz2 (Debian), or set source_version",
        ])
        XCTAssertEqual(source("/x/pg.tar.bz2").diagnostics.map(\.message), [
            "postgresql.install.tarball: cannot read the version from 'pg.tar.bz2'; name it postgresql-X.Y.tar.gz (upstream) or postgresql-X_X.Y.orig.tar.bz2 (Debian), or set source_version",
        ])
        XCTAssertEqual(source("/x/pg.tar.bz2, source_version: '15.3'").value?.postgresql.install.sourceVersion, "15.3")
        XCTAssertEqual(source("/x/postgresql-15_15.20.orig.tar.bz2, source_version: '15.19'").diagnostics.map(\.message), [
            "postgresql.install.source_version: 15.19 is not the version in the tarball's name (15.20): pgha would build 15.20 and never see 15.19 installed",
        ])
        XCTAssertEqual(source("/x/postgresql-15.20.tar.gz", version: 16).diagnostics.map(\.message), [
            "postgresql.install.source_version: source version 15.20 is not PostgreSQL 16 (postgresql.version)",
        ])
    }

    func testVIPOutsideSomeNodesSubnet() {
        let yaml = Self.minimal.replacingOccurrences(of: "{name: n3, address: 10.1.0.3}", with: "{name: n3, address: 10.2.0.3}")
        XCTAssertEqual(load(yaml).diagnostics.map(\.message), [
            "vips.read_write.ip: 10.1.0.100/24 is outside the subnet of n3, and the VIP must be able to move to every node",
        ])
    }

    func testTwoNodesWarnsButLoads() throws {
        let yaml = Self.minimal.replacingOccurrences(of: "  - {name: n3, address: 10.1.0.3}\n", with: "")
        let result = load(yaml)
        XCTAssertNotNil(result.value)
        XCTAssertEqual(result.diagnostics.map(\.severity), [.warning])
    }

    func testWalKeepSegmentsOnNewVersions() {
        let yaml = Self.minimal.replacingOccurrences(of: "  data_dir: /srv/pg", with: "  data_dir: /srv/pg\n  settings: {wal_keep_segments: 64}")
        XCTAssertEqual(load(yaml).diagnostics.map(\.message), [
            "postgresql.settings.wal_keep_segments: was removed in PostgreSQL 13; use wal_keep_size (e.g. 1600MB for 100 segments)",
        ])
    }

    func testSecretsResolveFromEnvironmentAndFile() throws {
        XCTAssertEqual(try SecretRef.env("X").resolve(environment: ["X": "v"]), "v")
        XCTAssertThrowsError(try SecretRef.env("X").resolve(environment: [:])) { error in
            XCTAssertEqual("\(error)", "environment variable X is not set; export it before running pgha")
        }
        let path = NSTemporaryDirectory() + "pgha-secret-\(UUID().uuidString)"
        try "from-file\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertEqual(try SecretRef.file(path).resolve(), "from-file")
    }

    func testIPv4() {
        XCTAssertEqual(IPv4("192.168.0.31")?.description, "192.168.0.31")
        for bad in ["10.0.0.300", "10.0.0", "10.0.0.1.2", "010.0.0.1", "a.b.c.d", "", "1..2.3", " 10.0.0.1"] {
            XCTAssertNil(IPv4(bad), bad)
        }
        XCTAssertTrue(IPv4("10.0.0.7")!.inSubnet(of: IPv4("10.0.0.200")!, prefix: 24))
        XCTAssertFalse(IPv4("10.0.1.7")!.inSubnet(of: IPv4("10.0.0.200")!, prefix: 24))
        XCTAssertEqual(IPv4("10.0.0.7")!.broadcast(24).description, "10.0.0.255")
        XCTAssertNil(CIDR("10.0.0.0/33"))
    }

    func testDidYouMean() {
        XCTAssertEqual(closestMatch("adress", in: ["address", "name"]), "address")
        XCTAssertEqual(closestMatch("hots", in: ["local", "host"]), "host")
        XCTAssertNil(closestMatch("a0", in: ["os", "vips"]))
    }
}

final class InventoryLoaderTests: XCTestCase {
    func testTestbedInventoryResolvesPathsAgainstItsFolder() throws {
        let result = InventoryLoader.load(path: "\(repositoryRoot)/inventory/testbed.yaml")
        let inventory = try XCTUnwrap(result.value, "\(result.diagnostics)")
        let node2 = try XCTUnwrap(inventory.hosts["node2"])
        XCTAssertEqual(node2.address, "10.77.0.12")
        XCTAssertEqual(node2.keyFile, "\(repositoryRoot)/.testbed/id_ed25519")
        XCTAssertEqual(node2.knownHosts, "\(repositoryRoot)/.testbed/known_hosts")
        XCTAssertEqual(node2.transport, .libssh2)
        XCTAssertEqual(node2.hostKeyPolicy, .strict)
    }

    func testOverridesAndErrors() throws {
        let yaml = """
            defaults: {user: dba, sudo: true, transport: openssh, port: 2222}
            hosts:
              a: {address: 10.0.0.1}
              b: {address: 10.0.0.2, port: 22, transport: libsh2}
              c: {adress: 10.0.0.3}
            """
        let result = InventoryLoader.load(yaml: yaml, file: "inv.yaml", baseDirectory: "/x")
        XCTAssertEqual(result.diagnostics.map(\.description), [
            "inv.yaml:4:47: error: hosts.b.transport: 'libsh2' is not one of libssh2, openssh, local; did you mean 'libssh2'?",
            "inv.yaml:5:6: error: hosts.c: missing required key 'address'",
            "inv.yaml:5:7: error: hosts.c.adress: unknown key 'adress'; did you mean 'address'?",
        ])
        let good = InventoryLoader.load(yaml: String(yaml.split(separator: "\n").prefix(3).joined(separator: "\n")), file: "inv.yaml", baseDirectory: "/x")
        let a = try XCTUnwrap(good.value?.hosts["a"])
        XCTAssertEqual(a.port, 2222)
        XCTAssertEqual(a.user, "dba")
        XCTAssertTrue(a.sudo)
        XCTAssertEqual(a.transport, .openssh)
    }

    func testInventoryMustCoverEveryNode() throws {
        let spec = try XCTUnwrap(SpecLoader.load(path: "\(repositoryRoot)/specs/testbed.yaml", displayPath: "specs/testbed.yaml").value)
        let inventory = try XCTUnwrap(InventoryLoader.load(yaml: "hosts:\n  node1: {address: 10.77.0.11}\n  node9: {address: 10.77.0.19}\n", file: "inv.yaml", baseDirectory: "/").value)
        XCTAssertEqual(InventoryLoader.check(inventory, against: spec, inventoryReader: "inv.yaml").map(\.description), [
            "inv.yaml: error: hosts: node 'node2' of specs/testbed.yaml is missing; add it under hosts: with its address",
            "inv.yaml: error: hosts: node 'node3' of specs/testbed.yaml is missing; add it under hosts: with its address",
            "inv.yaml: warning: hosts: 'node9' is not a node of specs/testbed.yaml and will not be used",
        ])
    }
}

/// Topology pgpool: the sections of each topology, and what makes pgpool's failover unsafe.
final class PgpoolSpecTests: XCTestCase {
    func load(_ yaml: String) -> LoadResult<ClusterSpec> { SpecLoader.load(yaml: yaml, file: "t.yaml") }

    func spec(nodes: Int = 3, extra: String = "", pgpool: String = "") -> String {
        """
        topology: pgpool
        cluster: {name: c}
        nodes:
        \((1...nodes).map { "  - {name: n\($0), address: 10.0.0.\($0)}" }.joined(separator: "\n"))
        postgresql: {version: 15, install: {method: package, distribution: debian}, data_dir: /d}
        replication: {password: {env: P}}
        pgpool:
          delegate_vip: {ip: 10.0.0.100, nic: eth0, cidr_netmask: 24}
          health_check: {user: pgpool}
          pcp: {user: admin, password: {env: P}}
          users: [{name: pgpool, password: {env: P}}]
          key: {env: K}
        \(pgpool)
        \(extra)
        """
    }

    func messages(_ yaml: String) -> [String] { load(yaml).diagnostics.filter { $0.severity == .error }.map(\.description) }

    func testValidSpecMakesTheDelegateVIPTheWriteAddress() throws {
        let spec = try XCTUnwrap(load(spec()).value, "\(load(spec()).diagnostics)")
        XCTAssertEqual(spec.topology, .pgpool)
        XCTAssertEqual(spec.vips.readWrite.ip, "10.0.0.100")
        XCTAssertEqual(spec.pgpool?.srCheckUser, "pgpool")
        XCTAssertEqual(spec.pgpool?.packages, ["pgpool2", "postgresql-15-pgpool2", "sudo", "iputils-arping", "iputils-ping"])
    }

    func testErrors() {
        let cases: [(String, String)] = [
            (spec(extra: "vips: {read_write: {ip: 10.0.0.5, nic: eth0, cidr_netmask: 24}}"), "t.yaml:16:1: error: vips: only applies to topology pacemaker"),
            (spec(nodes: 2), "error: nodes: 2 pgpool nodes cannot tell a dead peer from a cut network"),
            (spec(pgpool: "  sr_check: {user: nobody}"), "pgpool.sr_check.user: 'nobody' is not in pgpool.users"),
            (spec(pgpool: "  sr_check: {period: 0}"), "pgpool.sr_check.period: 0 turns the streaming-replication check off"),
            (spec(pgpool: "  settings: {backend_hostname3: x}"), "'backend_hostname3' is written by pgha"),
            (spec(pgpool: "  port: 5432"), "pgpool.port: 5432 is already postgresql.port"),
            (spec(pgpool: "  hba: [{type: host, database: all, user: all, address: 10.0.0.0/24, method: peer}]"), "'peer' is not a pool_hba.conf method"),
        ]
        for (yaml, expected) in cases {
            XCTAssertTrue(messages(yaml).contains { $0.contains(expected) }, "\(expected) not in \(messages(yaml))")
        }
        XCTAssertTrue(messages(spec(nodes: 2, pgpool: "  acknowledge: [two-node-watchdog]")).isEmpty)
    }

    func testPgpoolSectionInPacemakerTopologyIsAnError() throws {
        let text = try String(contentsOfFile: "\(repositoryRoot)/specs/testbed.yaml", encoding: .utf8) + "\npgpool: {port: 9999}\n"
        XCTAssertTrue(messages(text).contains { $0.contains("pgpool: only applies to topology pgpool") }, "\(messages(text))")
    }

    func testDialectDetection() {
        XCTAssertEqual(PgpoolSpec.Dialect.detect(versionOutput: "pgpool-II version 4.3.5 (tamahomeboshi)"), .v4_2)
        XCTAssertEqual(PgpoolSpec.Dialect.detect(versionOutput: "pgpool-II version 4.0.1 (torokiboshi)"), .v4_0)
        XCTAssertEqual(PgpoolSpec.Dialect.detect(versionOutput: "pgpool-II version 4.1.4"), .v4_0)
        XCTAssertNil(PgpoolSpec.Dialect.detect(versionOutput: "bash: pgpool: command not found"))
    }
}
