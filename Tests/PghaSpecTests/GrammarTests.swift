import Foundation
import PghaSpec
import XCTest

/// The grammars one by one, the crm_is_true reading of stonith-enabled, and one-line secrets.
final class GrammarTests: XCTestCase {
    func load(_ yaml: String) -> LoadResult<ClusterSpec> { SpecLoader.load(yaml: yaml, file: "t.yaml") }

    func testMatchesTheWholeStringOnly() {
        XCTAssertTrue(Grammar.matches("db1", Grammar.nodeName))
        XCTAssertFalse(Grammar.matches("db1\n", Grammar.nodeName), "ICU's $ matches before a final newline")
        XCTAssertFalse(Grammar.matches("x\ndb1", Grammar.nodeName))
        XCTAssertFalse(Grammar.matches("", Grammar.nodeName))
    }

    func testAbsolutePaths() {
        for good in ["/opt/pg1110", "/var/lib/postgresql/15/main", "/a/b.c_d+e@f%g,h:i=j-k", "/opt/soft/pg11/postgresql-11.10.tar.gz"] {
            XCTAssertNil(Grammar.absolutePathProblem(good), good)
        }
        let bad = ["opt/pg", "", "/", "/opt/pg/", "/opt//pg", "/opt/../etc", "/opt/./pg", "/opt/pg 15", "/opt/$(id)", "/opt/`id`",
                   "/opt/a;b", "/opt/a'b", "/opt/a\"b", "/opt/a\\b", "/opt/a|b", "/opt/a&b", "/opt/a>b", "/opt/a<b", "/opt/(a)",
                   "/opt/{a}", "/opt/a*", "/opt/a?", "/opt/[a]", "/opt/~a", "/opt/a#b", "/opt/a!b", "/opt/a\nb", "/opt/a\0b",
                   "/opt/a\tb", "/opt/é", "/" + String(repeating: "a", count: 256)]
        for path in bad { XCTAssertNotNil(Grammar.absolutePathProblem(path), Grammar.escaped(path)) }
        XCTAssertEqual(Grammar.absolutePathProblem("/opt/$(id)"),
                       "must be a plain path: '$' is not allowed; use letters, digits and . _ + @ % , : = - (no spaces, quotes or shell characters)")
        XCTAssertEqual(Grammar.absolutePathProblem("/opt/a\nb")?.contains("a control character (newline)"), true)
    }

    func testLocalPathsOfTheInventory() {
        for good in ["~/.ssh/id_ed25519", "../.testbed/id_ed25519", "keys/id", "./id", "/root/.ssh/known_hosts"] {
            XCTAssertNil(Grammar.localPathProblem(good), good)
        }
        for bad in ["~", "~/", "~root/.ssh/id", "keys/my key", "$HOME/id", "/root/../etc/shadow", "a//b"] {
            XCTAssertNotNil(Grammar.localPathProblem(bad), bad)
        }
    }

    func testHostNames() {
        for good in ["db1", "ntp1.aliyun.com", "A-b.example", "10.0.0.1", String(repeating: "a", count: 63)] {
            XCTAssertTrue(Grammar.isHostNameOrIPv4(good), good)
        }
        for bad in ["-db1", "db1-", "db_1", "db1.", ".db1", "a..b", "10.0.0.300", "1.2.3", "db 1", "-oProxyCommand=x",
                    String(repeating: "a", count: 64), String(repeating: "a.", count: 127) + "a"] {
            XCTAssertFalse(Grammar.isHostNameOrIPv4(bad), bad)
        }
    }

    func testNamesOptionsAndLists() {
        let cases: [(String, [String], [String])] = [
            (Grammar.packageName, ["postgresql14-server", "gcc-c++", "perl-ExtUtils-Embed", "libxml2-dev"],
             ["-y", "pkg=1.2", "pkg:amd64", "a b", ""]),
            (Grammar.sourceVersion, ["15", "15.20", "11.10"], ["15.", "15.2a", "v15", ""]),
            (Grammar.configureFlag, ["--with-openssl", "--with-includes=/usr/include/openssl", "CFLAGS=-O0", "-q", "--prefix="],
             ["CFLAGS=-O2 -g", "--with-x=$(id)", "--with-x='a'", "with-openssl", "-"]),
            (Grammar.initdbOption, ["--data-checksums", "-k", "--encoding=UTF8", "--locale=en_US.UTF-8"],
             ["-E UTF8", "UTF8", "-kD", "--auth='trust'"]),
            (Grammar.environmentName, ["LANG", "_X", "PG_HOME"], ["1X", "A-B", "A B", "A=B"]),
            (Grammar.hbaNames, ["all", "replication", "repluser,+admins", "samerole", "app$user"],
             ["all,", ",all", "@users", "\"all\"", "all #", "a b", "/^x"]),
            (Grammar.userName, ["postgres", "dba", "_svc"], ["Postgres", "1db", "-x", String(repeating: "a", count: 33)]),
            (Grammar.pacemakerName, ["resource-stickiness", "pcmk_host_list", "ip"], ["1x", "a b", "a=b"]),
            (Grammar.fenceAgent, ["fence_ipmilan", "fence_testbed"], ["fence_", "ipmilan", "fence_a-b", "fence_a;b"]),
            (Grammar.conninfoKey, ["keepalives_idle", "sslmode"], ["Keep", "a-b", "a b"]),
            (Grammar.conninfoValue, ["60", "require", "/etc/ssl/root.crt"], ["", "60 host=evil", "a'b", "a\\b"]),
            (Grammar.duration, ["60s", "500ms", "2min", "0"], ["60 s", "1d", "s"]),
        ]
        for (pattern, good, bad) in cases {
            for text in good { XCTAssertTrue(Grammar.matches(text, pattern), "\(text) ~ \(pattern)") }
            for text in bad { XCTAssertFalse(Grammar.matches(text, pattern), "\(text) !~ \(pattern)") }
        }
    }

    func testBooleans() {
        for yes in ["true", "TRUE", "on", "On", "yes", "Y", "y", "1"] { XCTAssertTrue(Grammar.pacemakerIsTrue(yes), yes) }
        for no in ["false", "off", "no", "0", "False", "", "enabled", "2", " true"] { XCTAssertFalse(Grammar.pacemakerIsTrue(no), no) }
        XCTAssertEqual(["t", "TRU", "ye", "on", "1"].map(Grammar.postgresBoolean), [true, true, true, true, true])
        XCTAssertEqual(["f", "No", "of", "OFF", "0"].map(Grammar.postgresBoolean), [false, false, false, false, false])
        XCTAssertEqual(["o", "", "2", "offf", "yess"].map(Grammar.postgresBoolean), [nil, nil, nil, nil, nil])
    }

    // MARK: STONITH as Pacemaker reads it

    func spec(stonith: String?, acknowledge: Bool, fencing: Bool = true) -> LoadResult<ClusterSpec> {
        var yaml = SpecLoaderTests.minimal
        let property = stonith.map { "  properties: {stonith-enabled: \($0)}\n" } ?? ""
        let ack = acknowledge ? "  acknowledge: [stonith-disabled]\n" : ""
        let devices = fencing ? "  fencing: [{name: f1, type: fence_xvm}]\n" : ""
        yaml = yaml.replacingOccurrences(of: "  fencing: [{name: f1, type: fence_xvm}]\n", with: property + ack + devices)
        return load(yaml)
    }

    func testEveryFalseSpellingOfStonithEnabledNeedsTheAcknowledgement() throws {
        for value in ["false", "off", "no", "n", "0", "False", "OFF", "No", "'0'"] {
            let refused = spec(stonith: value, acknowledge: false)
            XCTAssertEqual(refused.diagnostics.map(\.message), [
                "pacemaker.properties.stonith-enabled: disabling STONITH risks two primaries after a split; if you accept that, add 'stonith-disabled' to pacemaker.acknowledge",
            ], value)
            let acknowledged = spec(stonith: value, acknowledge: true, fencing: false)
            XCTAssertEqual(acknowledged.diagnostics.map(\.severity), [.warning], value)
            XCTAssertEqual(acknowledged.value?.pacemaker.stonithEnabled, false, value)
        }
    }

    func testEveryTrueSpellingKeepsStonithOnAndNeedsAFencingDevice() throws {
        for value in [nil, "true", "TRUE", "on", "Yes", "y", "1"] {
            XCTAssertEqual(spec(stonith: value, acknowledge: false).value?.pacemaker.stonithEnabled, true, value ?? "unset")
            XCTAssertEqual(spec(stonith: value, acknowledge: false, fencing: false).diagnostics.map(\.message), [
                "pacemaker.fencing: STONITH is enabled but no fencing device is defined, so Pacemaker will not start any resource; add a device (e.g. fence_ipmilan) or disable STONITH with an acknowledgement",
            ], value ?? "unset")
        }
    }

    func testAStonithEnabledThatIsNoBooleanIsRefused() {
        for value in ["maybe", "'true '", "disabled", "''"] {
            let result = spec(stonith: value, acknowledge: true)
            XCTAssertEqual(result.diagnostics.map(\.description).first?.hasPrefix("t.yaml:17:33: error: pacemaker.properties.stonith-enabled: '"), true, "\(value): \(result.diagnostics)")
            XCTAssertNil(result.value, value)
        }
    }

    // MARK: Secrets

    func testSecretsWithLineBreaksOrNULAreRefusedNamingTheReference() throws {
        for (value, what) in [("pa\nss", "a newline"), ("pa\rss", "a carriage return"), ("pa\0ss", "a NUL byte"), ("pass\n", "a newline")] {
            XCTAssertThrowsError(try SecretRef.env("PW").resolve(environment: ["PW": value])) { error in
                XCTAssertEqual("\(error)", "secret env:PW contains \(what); a secret must be a single line: set the variable to the secret alone, on one line")
            }
        }
        let directory = NSTemporaryDirectory() + "pgha-secret-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files: [(String, String?)] = [("s3cret\n", nil), ("s3cret", nil), ("s3cret\n\n", "a newline"), ("s3cret\r\n", "a carriage return"),
                                         ("s3\ncret\n", "a newline"), ("s3\0cret", "a NUL byte"), ("s3cret\r", "a carriage return")]
        for (i, (content, what)) in files.enumerated() {
            let path = "\(directory)/secret-\(i)"
            try content.write(toFile: path, atomically: true, encoding: .utf8)
            guard let what else {
                XCTAssertEqual(try SecretRef.file(path).resolve(), "s3cret")
                continue
            }
            XCTAssertThrowsError(try SecretRef.file(path).resolve(), Grammar.escaped(content)) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix("secret file:\(path) contains \(what); a secret must be a single line: "), message)
                XCTAssertFalse(message.contains("s3"), "the value must never be shown: \(message)")
            }
        }
    }

    // MARK: Checks with a meaning beyond the characters

    func testArchiveDirInitdbDataDirAndConninfoSpaces() {
        let base = SpecLoaderTests.minimal
        let cases: [(String, String, String)] = [
            ("  data_dir: /srv/pg", "  data_dir: /srv/pg\n  archive_dir: /srv/a%f",
             "t.yaml:12:16: error: postgresql.archive_dir: '/srv/a%f' must not contain '%': PostgreSQL expands %p and %f in archive_command, which copies into it (Sources/PghaSpec/Defaults.swift)"),
            ("  data_dir: /srv/pg", "  data_dir: /srv/pg\n  initdb_options: [--pgdata=/srv/other]",
             "t.yaml:12:20: error: postgresql.initdb_options[0]: the data directory is postgresql.data_dir (pgha passes it to initdb); remove '--pgdata=/srv/other'"),
            ("  password: {file: /etc/pgha/repl}", "  password: {file: /etc/pgha/repl}\n  conninfo_options: {keepalives_idle: '60 host=evil'}",
             "t.yaml:14:39: error: replication.conninfo_options.keepalives_idle: '60 host=evil' must be one word of letters, digits and _ . / : + , @ % = -: the options are joined unquoted into the pgsql agent's primary_conninfo_opt, where a space or a quote would change the connection string"),
            ("  data_dir: /srv/pg", "  data_dir: /srv/pg\n  settings: {\"work mem\": 1MB}",
             "t.yaml:12:14: error: postgresql.settings.work mem: 'work mem' is not a PostgreSQL setting name"),
            ("  data_dir: /srv/pg", "  data_dir: /srv/pg\n  settings: {hot_standby: of}",
             "t.yaml:12:27: error: postgresql.settings.hot_standby: must be on: the pgsql agent monitors standbys with queries"),
        ]
        for (line, replacement, expected) in cases {
            let result = load(base.replacingOccurrences(of: line, with: replacement))
            XCTAssertEqual(result.diagnostics.map(\.description), [expected])
        }
    }

    func testADefaultsValueIsReportedOnceForAllHosts() {
        let yaml = "defaults: {key: \"~/my key\"}\nhosts:\n  a: {address: 10.0.0.1}\n  b: {address: 10.0.0.2}\n  c: {address: 10.0.0.3}\n"
        XCTAssertEqual(InventoryLoader.load(yaml: yaml, file: "inv.yaml", baseDirectory: "/x").diagnostics.map(\.description), [
            "inv.yaml:1:17: error: defaults.key: '~/my key' must be a plain path: a space is not allowed; use letters, digits and . _ + @ % , : = - (no spaces, quotes or shell characters)",
        ])
    }

    func testFencingParametersThatNameASecret() {
        for name in ["password", "passwd", "snmp_priv_passwd", "community", "api_key", "key", "secret", "auth_token", "Password"] {
            XCTAssertTrue(Grammar.namesASecret(name), name)
        }
        for name in ["password_script", "identity_file", "pcmk_host_list", "ip", "username", "snmp_priv_prot", "ssl_insecure", "keytab_path"] {
            XCTAssertFalse(Grammar.namesASecret(name), name)
        }
    }

    func testTwoHostsWithOneAddressAreAnError() {
        let yaml = "hosts:\n  node1: {address: 10.77.0.11}\n  node2: {address: 10.77.0.11}\n  node3: {address: 10.77.0.11, port: 2222}\n"
        XCTAssertEqual(InventoryLoader.load(yaml: yaml, file: "inv.yaml", baseDirectory: "/x").diagnostics.map(\.description), [
            "inv.yaml:3:20: error: hosts.node2.address: 10.77.0.11 is also node1's address; each node is its own host (one apply would change one machine twice)",
        ])
    }
}
