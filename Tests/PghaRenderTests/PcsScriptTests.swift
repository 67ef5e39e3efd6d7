import Foundation
import PghaRender
import PghaSpec
import PghaShell
import XCTest

/// Splits a shell script into commands (argv lists): backslash-newline joins lines, quotes
/// group words, comments and blank lines are dropped. Enough for pcs scripts.
func shellCommands(_ script: String) -> [[String]] {
    var commands: [[String]] = []
    var words: [String] = []
    var word = ""
    var inWord = false
    var quote: Character?
    var characters = Array(script)
    var i = 0
    func endWord() { if inWord { words.append(word); word = ""; inWord = false } }
    func endCommand() { endWord(); if !words.isEmpty { commands.append(words); words = [] } }
    characters.append("\n")
    while i < characters.count {
        let c = characters[i]
        if let q = quote {
            if c == q { quote = nil } else { word.append(c) }
        } else if c == "\\" && i + 1 < characters.count && characters[i + 1] == "\n" {
            i += 1
        } else if c == "\"" || c == "'" {
            quote = c
            inWord = true
        } else if c == "#" && !inWord {
            while i < characters.count && characters[i] != "\n" { i += 1 }
            endCommand()
        } else if c == "\n" || c == ";" {
            endCommand()
        } else if c == " " || c == "\t" {
            endWord()
        } else {
            word.append(c)
            inWord = true
        }
        i += 1
    }
    return commands
}

final class PcsScriptTests: XCTestCase {
    func pcsCommands(_ file: RenderedFile) -> [[String]] {
        shellCommands(file.content).filter { $0.first == "pcs" || $0.first == "cp" }
    }

    func resourcesScript(_ spec: ClusterSpec, _ dialect: ClusterSpec.PcsDialect) throws -> RenderedFile {
        try XCTUnwrap(try render(spec, dialect).first { $0.path == "pcs-resources.sh" })
    }

    /// seed-000 in the 0.9 dialect creates what the seed's cluster_setup.sh creates, command by
    /// command. The only differences are deliberate and listed here.
    func testSeed000MatchesTheSeedsClusterSetupCommandByCommand() throws {
        let seed = shellCommands(try String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/seed-000-cluster_setup.sh", encoding: .utf8))
        var ours = pcsCommands(try resourcesScript(try loadSpec("seed-000"), .v0_9))
        // 1. pgha keeps the original CIB to push a diff (cib-push diff-against) instead of the whole CIB.
        XCTAssertEqual(ours.remove(at: 1), ["cp", "pgsql_cfg", "pgsql_cfg.orig"])
        XCTAssertEqual(ours.last, ["pcs", "cluster", "cib-push", "pgsql_cfg", "diff-against=pgsql_cfg.orig"])
        ours[ours.count - 1].removeLast()
        // 2. The seed puts the replication password into the CIB; pgha writes ~postgres/.pgpass instead.
        var seedCommands = seed
        let conninfo = "primary_conninfo_opt=password=repluser keepalives_idle=60 keepalives_interval=5 keepalives_count=5"
        let index = try XCTUnwrap(seedCommands.firstIndex { $0.contains(conninfo) })
        seedCommands[index] = seedCommands[index].map {
            $0 == conninfo ? "primary_conninfo_opt=keepalives_idle=60 keepalives_interval=5 keepalives_count=5" : $0
        }
        XCTAssertEqual(ours.count, seedCommands.count)
        for (mine, theirs) in zip(ours, seedCommands) {
            XCTAssertEqual(mine, theirs)
        }
    }

    /// The 0.10 and 0.11 scripts are the 0.9 script translated word for word.
    func testNewerDialectsAreFaithfulTranslations() throws {
        let spec = try loadSpec("seed-000")
        let legacy = pcsCommands(try resourcesScript(spec, .v0_9))
        for dialect in [ClusterSpec.PcsDialect.v0_10, .v0_11] {
            let translated = pcsCommands(try resourcesScript(spec, dialect)).map { command -> [String] in
                var words = command.filter { $0 != "update" && $0 != "meta" || command.contains("IPaddr2") || command.contains("ocf:heartbeat:IPaddr2") }
                if let i = words.firstIndex(of: "promotable") {
                    // promotable RESOURCE CLONE → master CLONE RESOURCE
                    words[i] = "master"
                    words.swapAt(i + 1, i + 2)
                }
                return words.map { word in
                    switch word {
                    case "ocf:heartbeat:IPaddr2": return "IPaddr2"
                    case "ocf:heartbeat:pgsql": return "pgsql"
                    case "promoted-max=1": return "master-max=1"
                    case "promoted-node-max=1": return "master-node-max=1"
                    case "role=Promoted": return "role=Master"
                    case "Promoted", "Master": return "master"
                    case "Unpromoted", "Slave": return "slave"
                    case "kind=Mandatory": return "score=INFINITY"
                    case "kind=Optional": return "score=0"
                    default: return word
                    }
                }
            }
            XCTAssertEqual(translated, legacy, "pcs \(dialect.rawValue)")
        }
    }

    func testDialectSpecificSyntax() throws {
        let spec = try loadSpec("seed-000")
        let v11 = try resourcesScript(spec, .v0_11).content
        XCTAssertTrue(v11.contains("pcs -f pgsql_cfg resource promotable pgsql msPostgresql \\\n    meta promoted-max=1 promoted-node-max=1 clone-max=5 clone-node-max=1 notify=true"))
        XCTAssertTrue(v11.contains("resource defaults update resource-stickiness=INFINITY"))
        XCTAssertTrue(v11.contains("constraint colocation add master-group with Promoted msPostgresql INFINITY"))
        XCTAssertTrue(v11.contains("role=Promoted"))
        XCTAssertFalse(v11.contains("Master"))
        let v10 = try resourcesScript(spec, .v0_10).content
        XCTAssertTrue(v10.contains("resource promotable pgsql msPostgresql \\\n    promoted-max=1"))
        XCTAssertTrue(v10.contains("with Master msPostgresql"))
    }

    func testSetupCommandsPerDialect() throws {
        let spec = try loadSpec("seed-000")
        XCTAssertEqual(PcsCommands(spec: spec, dialect: .v0_9).setupCommands().map(\.arguments), [
            ["pcs", "cluster", "auth", "db1", "db2", "db3", "-u", "hacluster"],
            ["pcs", "cluster", "setup", "--last_man_standing=1", "--name", "pgcluster", "db1", "db2", "db3"],
            ["pcs", "cluster", "start", "--all"],
            ["pcs", "cluster", "enable", "--all"],
        ])
        XCTAssertEqual(PcsCommands(spec: spec, dialect: .v0_11).setupCommands().map(\.arguments), [
            ["pcs", "host", "auth", "db1", "addr=192.168.0.31", "db2", "addr=192.168.0.32", "db3", "addr=192.168.0.33", "-u", "hacluster"],
            ["pcs", "cluster", "setup", "pgcluster", "db1", "addr=192.168.0.31", "db2", "addr=192.168.0.32", "db3", "addr=192.168.0.33",
             "quorum", "last_man_standing=1"],
            ["pcs", "cluster", "start", "--all"],
            ["pcs", "cluster", "enable", "--all"],
        ])
    }

    func testNoPasswordInAnyScript() throws {
        for name in ["seed-000", "seed-001", "testbed"] {
            for file in try render(try loadSpec(name)) where file.node == nil {
                XCTAssertFalse(file.content.contains("golden-secret"), "\(name) \(file.path)")
                XCTAssertFalse(shellCommands(file.content).contains { $0.contains("-p") || $0.contains { $0.hasPrefix("password=") } },
                               "\(name) \(file.path) passes a password as an argument")
            }
        }
    }

    func testShellQuoting() {
        XCTAssertEqual(quote("ip=10.0.0.1"), "ip=10.0.0.1")
        XCTAssertEqual(quote("node_list=a b"), "node_list='a b'")
        XCTAssertEqual(quote("it's"), "'it'\\''s'")
        XCTAssertEqual(shellCommands("pcs x \\\n  a='b c' \"d e\"  # note\n"), [["pcs", "x", "a=b c", "d e"]])
    }
}
