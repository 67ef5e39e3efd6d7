import Foundation
@testable import PghaRender
import XCTest

/// Values that may hold any printable text (postgresql.conf settings, environment values of
/// ~/.bash_profile) are escaped for their file's own parser: the real bash and the real
/// PostgreSQL 15 of this machine read back exactly the spec's text, and no payload runs.
final class EscapingTests: XCTestCase {
    static let canary = NSTemporaryDirectory() + "pgha-render-canary-\(UUID().uuidString)"
    static let corpus = [
        "plain", "two words", "$(touch \(canary))", "`touch \(canary)`", "a; touch \(canary)", "it's", "say \"hi\"",
        "back\\slash", "trailing\\", "a' , work_mem = '1", "'quoted'", "'bad'quote'", "$HOME/x", "${HOME}", "$1 $", "100%", "#hash",
    ]

    func run(_ arguments: [String], as user: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: user == nil ? arguments[0] : "/usr/sbin/runuser")
        process.arguments = user == nil ? Array(arguments.dropFirst()) : ["-u", user!, "--"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    func testProfileValuesReadBackThroughBash() throws {
        let file = NSTemporaryDirectory() + "pgha-profile-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: file) }
        for value in Self.corpus {
            try "export PGHA_X=\(RenderContext.profileValue(value))\n".write(toFile: file, atomically: true, encoding: .utf8)
            let read = try run(["/bin/bash", "-c", "HOME=/home/x; f=\"$1\"; set -- one; source \"$f\"; printf '%s' \"$PGHA_X\"", "bash", file])
            // Plain variable references expand, as in any profile; everything else is literal.
            let expected = value.replacingOccurrences(of: "${HOME}", with: "/home/x").replacingOccurrences(of: "$HOME", with: "/home/x")
            XCTAssertEqual(read, expected, "value \(value.debugDescription) rendered as \(RenderContext.profileValue(value))")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.canary), "a payload ran")
        XCTAssertEqual(RenderContext.profileValue("/usr/lib/postgresql/15/bin:$PATH"), "/usr/lib/postgresql/15/bin:$PATH")
    }

    func testSettingValuesReadBackThroughPostgres() throws {
        let postgres = "/usr/lib/postgresql/15/bin/postgres"
        guard FileManager.default.isExecutableFile(atPath: postgres), getuid() == 0 else {
            throw XCTSkip("needs root and PostgreSQL 15 (scripts/install-deps installs it)")
        }
        let directory = NSTemporaryDirectory() + "pgha-conf-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let values = Self.corpus.filter { !$0.hasPrefix("'") || RenderContext.isQuotedConfString($0) }
        var lines = ""
        for (i, value) in values.enumerated() where i < 20 {
            // Custom (placeholder) settings take any string: pgha_test.vN.
            lines += "pgha_test.v\(i) = \(RenderContext.confValue(value))\n"
        }
        try lines.write(toFile: directory + "/postgresql.conf", atomically: true, encoding: .utf8)
        for name in ["pg_hba.conf", "pg_ident.conf"] { FileManager.default.createFile(atPath: directory + "/" + name, contents: Data()) }
        _ = try run(["/bin/chown", "-R", "postgres", directory])
        for (i, value) in values.enumerated() where i < 20 {
            let read = try run([postgres, "-D", directory, "-C", "pgha_test.v\(i)"], as: "postgres")
            let expected = RenderContext.isQuotedConfString(value) ? String(value.dropFirst().dropLast()) : value
            XCTAssertEqual(read, expected + "\n", "value \(value.debugDescription) rendered as \(RenderContext.confValue(value))")
        }
        XCTAssertEqual(RenderContext.confValue("a' , work_mem = '1"), "'a'' , work_mem = ''1'")
        XCTAssertEqual(RenderContext.confValue("trailing\\"), "'trailing\\\\'")
        XCTAssertEqual(RenderContext.confValue("'bad'quote'"), "'''bad''quote'''")
    }
}
