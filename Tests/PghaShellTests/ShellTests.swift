import Foundation
import XCTest
@testable import PghaShell

/// The quoting function is what keeps values from becoming code: each value must reach the
/// program as exactly itself. Checked by running the rendered text in a real bash.
final class ShellTests: XCTestCase {
    /// Values that break naive interpolation: expansions, separators, quotes, globs, newlines.
    static let hostile = [
        "$(touch /tmp/pgha-pwned)", "`touch /tmp/pgha-pwned`", "a;touch /tmp/pgha-pwned", "a'b", "a\"b", "a\\b",
        "a\nb", "a b", "*", "~root", "#comment", "", "-n", "a|b", "a&b", "${IFS}", "'", "''", "\\'", "é ü",
        "a\tb", "!event", "x=y z", "%s",
    ]

    func bash(_ script: Shell) throws -> (out: String, status: Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", script.text]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (String(decoding: data, as: UTF8.self), process.terminationStatus)
    }

    func testEveryHostileValueArrivesLiterallyAsOneArgument() throws {
        try? FileManager.default.removeItem(atPath: "/tmp/pgha-pwned")
        for value in Self.hostile {
            let (out, status) = try bash("printf '%s\\0' \(value)")
            XCTAssertEqual(status, 0, value)
            XCTAssertEqual(out, value + "\0", "value \(value.debugDescription) did not arrive as itself")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/pgha-pwned"), "a payload ran")
    }

    func testCommandRendersArgvAsWords() throws {
        for value in Self.hostile {
            let command = Command(["printf", "%s\\0", value, value])
            let (out, _) = try bash(command.shell)
            XCTAssertEqual(out, value + "\0" + value + "\0", value.debugDescription)
        }
    }

    func testReadableWhenNoQuotingIsNeeded() {
        XCTAssertEqual(quote("/var/lib/postgresql/15/main"), "/var/lib/postgresql/15/main")
        XCTAssertEqual(quote("ip=192.168.0.28"), "ip=192.168.0.28")
        XCTAssertEqual(quote("a b"), "'a b'")
        XCTAssertEqual(quote("it's"), "'it'\\''s'")
        XCTAssertEqual(quote(""), "''")
        XCTAssertEqual(quote("~"), "'~'")
    }

    func testNULIsDroppedNotTruncating() {
        XCTAssertEqual(quote("a\0b"), "ab")
    }

    func testRunAsUserFromRoot() {
        let c = Command(["psql", "-X", "-c", "select 1"], user: "postgres")
        XCTAssertEqual(c.shell.text, "(cd / && runuser -u postgres -- psql -X -c 'select 1')")
        XCTAssertEqual(c.feeding(Data("x".utf8)).description, "(cd / && runuser -u postgres -- psql -X -c 'select 1') (input on stdin)")
    }

    func testEnvironmentValuesAreQuotedAndBadNamesDropped() throws {
        let c = Command(["printenv", "A"], environment: [("A", "$(id) x"), ("B;id", "y")])
        XCTAssertEqual(c.shell.text, "env A='$(id) x' printenv A")
        XCTAssertEqual(try bash(c.shell).out, "$(id) x\n")
    }

    func testJoinAndGroup() throws {
        let s = Shell.all(["true", "echo \("a b")"])
        XCTAssertEqual(s.text, "true && echo 'a b'")
        XCTAssertEqual(s.grouped.text, "{ true && echo 'a b' ; }")
        XCTAssertEqual(try bash(Shell.lines(["echo 1", "echo \(2)"])).out, "1\n2\n")
    }

    func testMarkersDiffer() {
        XCTAssertNotEqual(randomMarker(), randomMarker())
        XCTAssertEqual(randomMarker().count, "pgha-".count + 24)
    }
}

final class QuoteFormTests: XCTestCase {
    func testNameValueWordsKeepTheNameBare() {
        XCTAssertEqual(quote("node_list=db1 db2"), "node_list='db1 db2'")
        XCTAssertEqual(quote("a=it's"), "a='it'\\''s'")
        XCTAssertEqual(quote("=x y"), "'=x y'")
        XCTAssertEqual(quote("#x"), "'#x'")
        XCTAssertEqual(quote("a#x"), "a#x")
    }

    func testAProgramThatLooksLikeAnAssignmentIsNotOne() {
        XCTAssertEqual(Command(["A=b", "c"]).shell.text, "'A=b' c")
    }
}
