import Foundation
import PghaSpec
import XCTest

/// Every free-form field of the spec and the inventory, given values that would do something in
/// a shell or break out of a configuration file: each is refused by validation at the value's
/// `file:line:column` with the field's path, or, for the fields that hold free text on purpose,
/// accepted, except for line breaks and NUL, which no field accepts.
final class InjectionCorpusTests: XCTestCase {
    /// One field: in `base`, the first `line` is replaced by `replacement`, where `@@` stands for
    /// the YAML scalar (`valid` followed by a payload, double-quoted). `path` is the field's path
    /// in the diagnostic, with `@@` for the value when it is a mapping key.
    struct Field {
        var path: String
        var base: String
        var line: String
        var replacement: String
        var valid: String
        /// Free printable text is allowed (quoted where it is written).
        var free = false
    }

    static let payloads = ["$(touch /tmp/x)", "`touch /tmp/x`", ";touch /tmp/x", "'", "\"", "\\", "\n", "\0"]

    static let s0 = "specs/seed-000.yaml", s1 = "specs/seed-001.yaml", tb = "specs/testbed.yaml"
    static let i0 = "inventory/seed-000.yaml", itb = "inventory/testbed.yaml"

    static func f(_ path: String, _ base: String, _ line: String, _ replacement: String, _ valid: String,
                  free: Bool = false) -> Field {
        Field(path: path, base: base, line: line, replacement: replacement, valid: valid, free: free)
    }

    static let specFields: [Field] = [
        f("cluster.name", s0, "  name: pgcluster", "  name: @@", "pgcluster"),
        f("cluster.primary", s0, "  primary: db1", "  primary: @@", "db1"),
        f("nodes[0].name", s0, "  - name: db1", "  - name: @@", "db1"),
        f("nodes[0].address", s0, "    address: 192.168.0.31", "    address: @@", "192.168.0.31"),
        f("nodes[0].ring_addresses[0]", s0, "    address: 192.168.0.31\n  - name: db2\n    address: 192.168.0.32\n  - name: db3\n    address: 192.168.0.33",
          "    address: 192.168.0.31\n    ring_addresses: [@@]\n  - name: db2\n    address: 192.168.0.32\n    ring_addresses: [10.0.0.32]\n"
            + "  - name: db3\n    address: 192.168.0.33\n    ring_addresses: [10.0.0.33]", "10.0.0.31"),
        f("vips.read_write.ip", s0, "    ip: 192.168.0.28", "    ip: @@", "192.168.0.28"),
        f("vips.read_write.nic", s0, "    nic: ens33", "    nic: @@", "ens33"),
        f("vips.read_write.hostname", tb, "    nic: eth0", "    nic: eth0\n    hostname: @@", "db-primary"),
        f("vips.read_write.resource", tb, "    nic: eth0", "    nic: eth0\n    resource: @@", "vip-rw"),
        f("vips.read_write.group", tb, "    nic: eth0", "    nic: eth0\n    group: @@", "rw-group"),
        f("vips.read_write.operations.monitor.interval", tb, "    nic: eth0", "    nic: eth0\n    operations: {monitor: {interval: @@}}", "10s"),
        f("postgresql.install.method", s0, "    method: source", "    method: @@", "source"),
        f("postgresql.install.distribution", s1, "    distribution: pgdg", "    distribution: @@", "pgdg"),
        f("postgresql.install.packages[0]", s1, "    packages: [postgresql14-server]", "    packages: [@@]", "postgresql14-server"),
        f("postgresql.install.tarball", s0, "    tarball: /opt/soft/pg11/postgresql-11.10.tar.gz", "    tarball: @@", "/opt/soft/pg11/postgresql-11.10.tar.gz"),
        f("postgresql.install.prefix", s0, "    prefix: /opt/pg1110", "    prefix: @@", "/opt/pg1110"),
        f("postgresql.install.source_version", s0, "    prefix: /opt/pg1110", "    prefix: /opt/pg1110\n    source_version: @@", "11.10"),
        f("postgresql.install.build_packages[1]", s0, "    prefix: /opt/pg1110", "    prefix: /opt/pg1110\n    build_packages: [gcc, @@]", "make"),
        f("postgresql.install.configure_flags[1]", s0, "    configure_flags: [--with-openssl, --with-includes=/usr/include/openssl]",
          "    configure_flags: [--with-openssl, @@]", "--with-includes=/usr/include/openssl"),
        f("postgresql.bin_dir", s0, "  backup_dir: /opt/backup", "  backup_dir: /opt/backup\n  bin_dir: @@", "/opt/pg1110/bin"),
        f("postgresql.data_dir", s0, "  data_dir: /opt/pgdata1110", "  data_dir: @@", "/opt/pgdata1110"),
        f("postgresql.archive_dir", s0, "  archive_dir: /opt/pgarchive", "  archive_dir: @@", "/opt/pgarchive"),
        f("postgresql.backup_dir", s0, "  backup_dir: /opt/backup", "  backup_dir: @@", "/opt/backup"),
        f("postgresql.profile", tb, "  archive_dir: /var/lib/postgresql/15/archive", "  archive_dir: /var/lib/postgresql/15/archive\n  profile: @@", "seed"),
        f("postgresql.os_user.name", s0, "    name: postgres", "    name: @@", "postgres"),
        f("postgresql.os_user.group", s0, "    group: dba", "    group: @@", "dba"),
        f("postgresql.os_user.home", s0, "    group: dba", "    group: dba\n    home: @@", "/home/postgres"),
        f("postgresql.initdb_options[1]", s0, "  port: 5432", "  port: 5432\n  initdb_options: [--data-checksums, @@]", "--encoding=UTF8"),
        f("postgresql.environment.@@", s0, "    LANG: en_US.utf8", "    @@: en_US.utf8", "LANG"),
        f("postgresql.environment.LANG", s0, "    LANG: en_US.utf8", "    LANG: @@", "en_US.utf8", free: true),
        f("postgresql.settings.@@", tb, "    lc_messages: C", "    @@: C", "lc_messages"),
        f("postgresql.settings.lc_messages", tb, "    lc_messages: C", "    lc_messages: @@", "C", free: true),
        f("postgresql.hba[0].type", s0, "    - {type: host, database: all, user: all, address: 192.168.0.0/24, method: md5}",
          "    - {type: @@, database: all, user: all, address: 192.168.0.0/24, method: md5}", "host"),
        f("postgresql.hba[0].database", s0, "    - {type: host, database: all, user: all, address: 192.168.0.0/24, method: md5}",
          "    - {type: host, database: @@, user: all, address: 192.168.0.0/24, method: md5}", "all"),
        f("postgresql.hba[0].user", s0, "    - {type: host, database: all, user: all, address: 192.168.0.0/24, method: md5}",
          "    - {type: host, database: all, user: @@, address: 192.168.0.0/24, method: md5}", "all"),
        f("postgresql.hba[0].address", s0, "    - {type: host, database: all, user: all, address: 192.168.0.0/24, method: md5}",
          "    - {type: host, database: all, user: all, address: @@, method: md5}", "192.168.0.0/24"),
        f("postgresql.hba[0].method", s0, "    - {type: host, database: all, user: all, address: 192.168.0.0/24, method: md5}",
          "    - {type: host, database: all, user: all, address: 192.168.0.0/24, method: @@}", "md5"),
        f("replication.user", s0, "  user: repluser", "  user: @@", "repluser"),
        f("replication.mode", s0, "  mode: async", "  mode: @@", "async"),
        f("replication.password.env", s0, "  password: {env: PGHA_REPLICATION_PASSWORD}", "  password: {env: @@}", "PGHA_REPLICATION_PASSWORD"),
        f("replication.password.file", s0, "  password: {env: PGHA_REPLICATION_PASSWORD}", "  password: {file: @@}", "/etc/pgha/repl"),
        f("replication.conninfo_options.@@", s0, "  mode: async", "  mode: async\n  conninfo_options: {@@: 60}", "keepalives_idle"),
        f("replication.conninfo_options.keepalives_idle", s0, "  mode: async", "  mode: async\n  conninfo_options: {keepalives_idle: @@}", "60"),
        f("pacemaker.pcs_dialect", s0, "  pcs_dialect: \"0.9\"", "  pcs_dialect: @@", "0.9"),
        f("pacemaker.hacluster_password.env", s0, "  hacluster_password: {env: PGHA_HACLUSTER_PASSWORD}", "  hacluster_password: {env: @@}", "PGHA_HACLUSTER_PASSWORD"),
        f("pacemaker.hacluster_password.file", s0, "  hacluster_password: {env: PGHA_HACLUSTER_PASSWORD}", "  hacluster_password: {file: @@}", "/etc/pgha/hacluster"),
        f("pacemaker.properties.@@", s0, "    no-quorum-policy: ignore", "    @@: ignore", "no-quorum-policy"),
        f("pacemaker.properties.no-quorum-policy", tb, "    no-quorum-policy: stop", "    no-quorum-policy: @@", "stop", free: true),
        f("pacemaker.properties.stonith-enabled", s0, "    stonith-enabled: false", "    stonith-enabled: @@", "false"),
        f("pacemaker.resource_defaults.@@", s0, "  last_man_standing: true", "  last_man_standing: true\n  resource_defaults: {@@: INFINITY}", "resource-stickiness"),
        f("pacemaker.resource_defaults.resource-stickiness", s0, "  last_man_standing: true",
          "  last_man_standing: true\n  resource_defaults: {resource-stickiness: @@}", "INFINITY", free: true),
        f("pacemaker.pgsql.resource", s0, "    restart_on_promote: true", "    restart_on_promote: true\n    resource: @@", "pgsql"),
        f("pacemaker.pgsql.clone", s0, "    restart_on_promote: true", "    restart_on_promote: true\n    clone: @@", "msPostgresql"),
        f("pacemaker.pgsql.tmpdir", s0, "    restart_on_promote: true", "    restart_on_promote: true\n    tmpdir: @@", "/var/run/pgsql-tmp"),
        f("pacemaker.pgsql.operations.monitor.timeout", s0, "      monitor: {interval: 4s}",
          "      monitor: {interval: 4s, timeout: @@}", "30s"),
        f("pacemaker.pgsql.operations.stop.on_fail", s0, "      monitor: {interval: 4s}",
          "      monitor: {interval: 4s}\n      stop: {on_fail: @@}", "block"),
        f("pacemaker.acknowledge[1]", s0, "  acknowledge: [stonith-disabled, no-quorum-policy-ignore]",
          "  acknowledge: [stonith-disabled, @@]", "no-quorum-policy-ignore"),
        f("pacemaker.fencing[0].name", tb, "    - name: fence-testbed", "    - name: @@", "fence-testbed"),
        f("pacemaker.fencing[0].type", tb, "      type: fence_testbed", "      type: @@", "fence_testbed"),
        f("pacemaker.fencing[0].parameters.@@", tb, "        pcmk_host_list: node1 node2 node3", "        @@: node1 node2 node3", "pcmk_host_list"),
        // pcmk_host_list names the spec's nodes (the fencing coverage check): not free text.
        f("pacemaker.fencing[0].parameters.pcmk_host_list", tb, "        pcmk_host_list: node1 node2 node3",
          "        pcmk_host_list: @@", "node1 node2 node3"),
        f("os.hosts_file.extra[0].ip", s0, "  firewall: disabled", "  hosts_file: {extra: [{ip: @@, names: [backup]}]}\n  firewall: disabled", "192.168.0.40"),
        f("os.hosts_file.extra[0].names[0]", s0, "  firewall: disabled", "  hosts_file: {extra: [{ip: 192.168.0.40, names: [@@]}]}\n  firewall: disabled", "backup-host"),
        f("os.firewall", s0, "  firewall: disabled", "  firewall: @@", "disabled"),
        f("os.time_sync.service", s0, "    service: ntp", "    service: @@", "ntp"),
        f("os.time_sync.servers[0]", s0, "    servers: [ntp1.aliyun.com]", "    servers: [@@]", "ntp1.aliyun.com"),
    ]

    static let inventoryFields: [Field] = [
        f("hosts.@@", i0, "  db1: {address: 192.168.0.31}", "  @@: {address: 192.168.0.31}", "db1"),
        f("hosts.db1.address", i0, "  db1: {address: 192.168.0.31}", "  db1: {address: @@}", "192.168.0.31"),
        f("hosts.db1.address", i0, "  db1: {address: 192.168.0.31}", "  db1: {address: @@}", "db1.example.com"),
        f("defaults.user", i0, "  user: root", "  user: @@", "root"),
        f("hosts.db2.user", i0, "  db2: {address: 192.168.0.32}", "  db2: {address: 192.168.0.32, sudo: true, user: @@}", "dba"),
        f("defaults.key", i0, "  key: ~/.ssh/id_ed25519", "  key: @@", "~/.ssh/id_ed25519"),
        f("defaults.key", itb, "  key: ../.testbed/id_ed25519", "  key: @@", "../.testbed/id_ed25519"),
        f("defaults.known_hosts", i0, "  known_hosts: /root/.ssh/known_hosts", "  known_hosts: @@", "/root/.ssh/known_hosts"),
        f("defaults.ssh_config", i0, "  user: root", "  user: root\n  ssh_config: @@", "/etc/pgha/ssh_config"),
        f("defaults.key_passphrase.env", i0, "  user: root", "  user: root\n  key_passphrase: {env: @@}", "PGHA_SSH_KEY_PASSPHRASE"),
        f("defaults.key_passphrase.file", i0, "  user: root", "  user: root\n  key_passphrase: {file: @@}", "/etc/pgha/key-passphrase"),
        f("hosts.db2.transport", i0, "  db2: {address: 192.168.0.32}", "  db2: {address: 192.168.0.32, transport: @@}", "openssh"),
        f("hosts.db2.host_key_policy", i0, "  db2: {address: 192.168.0.32}", "  db2: {address: 192.168.0.32, host_key_policy: @@}", "strict"),
    ]

    /// A YAML double-quoted scalar holding `value`.
    static func quoted(_ value: String) -> String {
        var text = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": text += "\\\\"
            case "\"": text += "\\\""
            case "\n": text += "\\n"
            case "\0": text += "\\0"
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text + "\""
    }

    /// The document with the field set to `value`, and the 1-based line and column of the value.
    static func mutate(_ field: Field, _ value: String) throws -> (yaml: String, line: Int, column: Int) {
        let text = try String(contentsOfFile: "\(repositoryRoot)/\(field.base)", encoding: .utf8)
        let range = try XCTUnwrap(text.range(of: "\n" + field.line + "\n"), "\(field.base) has no line '\(field.line)'")
        let before = String(text[..<range.lowerBound]) + "\n"
        let edited = field.replacement.replacingOccurrences(of: "@@", with: "\u{1}")
        let head = before + String(edited[..<edited.firstIndex(of: "\u{1}")!])
        let line = head.filter { $0 == "\n" }.count + 1
        let column = head.count - (head.lastIndex(of: "\n").map { head.distance(from: head.startIndex, to: $0) + 1 } ?? 0) + 1
        let yaml = before + field.replacement.replacingOccurrences(of: "@@", with: quoted(value)) + "\n" + text[range.upperBound...]
        return (yaml, line, column)
    }

    static func load(_ field: Field, _ yaml: String) -> [Diagnostic] {
        if field.base.hasPrefix("inventory/") {
            return InventoryLoader.load(yaml: yaml, file: field.base, baseDirectory: "\(repositoryRoot)/inventory").diagnostics
        }
        return SpecLoader.load(yaml: yaml, file: field.base).diagnostics
    }

    func testTheBaseValuesAreValid() throws {
        for field in Self.specFields + Self.inventoryFields {
            let (yaml, _, _) = try Self.mutate(field, field.valid)
            let errors = Self.load(field, yaml).filter { $0.severity == .error }
            XCTAssertEqual(errors, [], "\(field.path) = '\(field.valid)' in \(field.base)")
        }
    }

    func testInjectedValuesAreRefusedAtTheirPositionOrAcceptedAsText() throws {
        var refused = 0, accepted = 0
        for field in Self.specFields + Self.inventoryFields {
            for payload in Self.payloads {
                let value = field.valid + payload
                let (yaml, line, column) = try Self.mutate(field, value)
                let diagnostics = Self.load(field, yaml)
                let label = "\(field.path) = \(Grammar.escaped(value).debugDescription) in \(field.base)"
                for diagnostic in diagnostics {
                    XCTAssertNil(Grammar.firstControl(in: diagnostic.description), "a raw control character in: \(label)")
                }
                let control = payload == "\n" || payload == "\0"
                if field.free && !control {
                    XCTAssertFalse(diagnostics.hasErrors, "\(label) must be accepted: \(diagnostics)")
                    accepted += 1
                    continue
                }
                let path = field.path.replacingOccurrences(of: "@@", with: Grammar.escaped(value))
                let prefix = "\(field.base):\(line):\(column): error: \(path): "
                let match = diagnostics.first { $0.description.hasPrefix(prefix) }
                XCTAssertNotNil(match, "\(label) must be refused with \(prefix)…; got:\n\(diagnostics.map(\.description).joined(separator: "\n"))")
                if control, let match {
                    let name = payload == "\n" ? "newline" : "NUL"
                    XCTAssertTrue(match.message.contains("contains a control character (\(name))"), match.description)
                }
                refused += 1
            }
        }
        XCTAssertEqual(accepted, 4 * 6)  // 4 free-text fields × the 6 payloads without a control character
        XCTAssertGreaterThan(refused, 600)
    }

    /// The brief's own example, in full.
    func testAControlCharacterIsNamedAndEscaped() throws {
        let field = Self.specFields.first { $0.path == "postgresql.bin_dir" }!
        let (yaml, line, column) = try Self.mutate(field, "/opt/pg\nbin")
        XCTAssertEqual(Self.load(field, yaml).filter { $0.severity == .error }.map(\.description), [
            "specs/seed-000.yaml:\(line):\(column): error: postgresql.bin_dir: the value '/opt/pg\\nbin' contains a control character (newline); values reach shell commands and configuration files on the hosts, write it on one line without control characters",
        ])
        XCTAssertEqual("\(line):\(column)", "36:12")
        let tab = SpecLoader.load(yaml: yaml.replacingOccurrences(of: "    LANG: en_US.utf8", with: "    \"LA\\tNG\": x"), file: "t.yaml")
        XCTAssertTrue(tab.diagnostics.map(\.description).contains(
            "t.yaml:44:5: error: postgresql.environment.LA\\tNG: the key 'LA\\tNG' contains a control character (tab); values reach shell commands and configuration files on the hosts, write it on one line without control characters"),
            "\(tab.diagnostics)")
    }

    /// An alias is checked, and reported, where its anchor is; a duplicate key is quoted escaped.
    func testAliasesAndDuplicateKeysKeepControlCharactersOut() {
        let aliased = SpecLoader.load(yaml: SpecLoaderTests.minimal
            .replacingOccurrences(of: "cluster: {name: c}", with: "x: &x \"/srv/a\\tb\"\ncluster: {name: c}")
            .replacingOccurrences(of: "  data_dir: /srv/pg", with: "  data_dir: *x"), file: "t.yaml")
        XCTAssertEqual(aliased.diagnostics.map(\.description), ["x", "postgresql.data_dir"].map {
            "t.yaml:1:4: error: \($0): the value '/srv/a\\tb' contains a control character (tab); values reach shell commands and configuration files on the hosts, write it on one line without control characters"
        })
        let duplicate = SpecLoader.load(yaml: "\"a\\u001Bb\": 1\n\"a\\u001Bb\": 2\n", file: "t.yaml")
        XCTAssertEqual(duplicate.diagnostics.count, 1)
        XCTAssertNil(Grammar.firstControl(in: duplicate.diagnostics.description), duplicate.diagnostics.description)
        XCTAssertTrue(duplicate.diagnostics.description.contains("a\\u{1B}b"), duplicate.diagnostics.description)
    }

    func testShippedSpecsAndInventoriesValidate() throws {
        for folder in ["specs", "inventory"] {
            let names = try FileManager.default.contentsOfDirectory(atPath: "\(repositoryRoot)/\(folder)").filter { $0.hasSuffix(".yaml") }
            XCTAssertGreaterThanOrEqual(names.count, 3)
            for name in names {
                let path = "\(repositoryRoot)/\(folder)/\(name)"
                let diagnostics = folder == "specs" ? SpecLoader.load(path: path, displayPath: name).diagnostics
                    : InventoryLoader.load(path: path, displayPath: name).diagnostics
                XCTAssertFalse(diagnostics.hasErrors, "\(folder)/\(name): \(diagnostics)")
            }
        }
    }
}
