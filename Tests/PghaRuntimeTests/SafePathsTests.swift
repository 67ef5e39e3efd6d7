import Foundation
import PghaRuntime
import PghaShell
import XCTest

/// SafePaths run for real on this machine (the tests run as root, like pgha on a host): what
/// another user's link would redirect is refused and left untouched.
final class SafePathsTests: XCTestCase {
    var root = ""
    let here = ThisMachine(name: "here")

    override func setUpWithError() throws {
        try XCTSkipUnless(getuid() == 0, "SafePaths acts as root; these tests need root (as on a host)")
        root = NSTemporaryDirectory() + "pgha-safe-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        // A directory the unprivileged user owns, like /var/lib/postgresql for postgres.
        try FileManager.default.createDirectory(atPath: root + "/home", withIntermediateDirectories: true)
        try sh("chown nobody:nogroup \(root)/home")
        try FileManager.default.createDirectory(atPath: root + "/victim", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try Data("root's\n".utf8).write(to: URL(fileURLWithPath: root + "/victim/secret"))
        try sh("chmod 600 \(root)/victim/secret")
    }

    override func tearDownWithError() throws { if !root.isEmpty { try? FileManager.default.removeItem(atPath: root) } }

    @discardableResult
    func sh(_ script: String) throws -> String { try runLocally(script) }

    func run(_ command: Command) async throws -> CommandResult { try await here.run(command) }

    func stat(_ path: String) throws -> String { try sh("stat -c '%a %U %G %F' \(quote(path))").trimmingCharacters(in: .newlines) }

    func testWritesAFileAsItsOwnerWants() async throws {
        let result = try await run(SafePaths.write(root + "/home/.pgpass", Data("*:*:*:u:p\n".utf8), mode: 0o600, owner: "nobody", group: "nogroup"))
        XCTAssertTrue(result.succeeded, result.stderr)
        XCTAssertEqual(try stat(root + "/home/.pgpass"), "600 nobody nogroup regular file")
        XCTAssertEqual(try String(contentsOfFile: root + "/home/.pgpass", encoding: .utf8), "*:*:*:u:p\n")
        // Replaced atomically, no temporary left behind.
        _ = try await run(SafePaths.write(root + "/home/.pgpass", Data("new\n".utf8), mode: 0o640, owner: "nobody", group: "nogroup"))
        XCTAssertEqual(try String(contentsOfFile: root + "/home/.pgpass", encoding: .utf8), "new\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root + "/home"), [".pgpass"])
    }

    func testALinkAtTheFileIsRefusedAndItsTargetUntouched() async throws {
        try sh("ln -s \(root)/victim/secret \(root)/home/.pgpass && chown -h nobody:nogroup \(root)/home/.pgpass")
        let before = try stat(root + "/victim/secret")
        let result = try await run(SafePaths.write(root + "/home/.pgpass", Data("x\n".utf8), mode: 0o644, owner: "nobody", group: "nogroup"))
        XCTAssertFalse(result.succeeded)
        XCTAssertTrue(result.stderr.contains("/home/.pgpass is a symbolic link; pgha never writes through one as root"), result.stderr)
        XCTAssertEqual(try stat(root + "/victim/secret"), before)
        XCTAssertEqual(try String(contentsOfFile: root + "/victim/secret", encoding: .utf8), "root's\n")
        let touch = try await run(SafePaths.touch(root + "/home/.pgpass", mode: 0o644, owner: "nobody", group: "nogroup"))
        XCTAssertFalse(touch.succeeded)
        XCTAssertEqual(try stat(root + "/victim/secret"), before)
    }

    func testALinkOnTheWayOwnedBySomeoneElseIsRefused() async throws {
        // nobody swaps its data directory for a link to root's directory.
        try sh("ln -s \(root)/victim \(root)/home/data && chown -h nobody:nogroup \(root)/home/data")
        let before = try stat(root + "/victim")
        for command in [SafePaths.write(root + "/home/data/secret", Data("x".utf8), mode: 0o644, owner: "nobody", group: "nogroup"),
                        SafePaths.directory(root + "/home/data", mode: 0o700, owner: "nobody", group: "nogroup"),
                        SafePaths.directory(root + "/home/data/sub", mode: 0o700, owner: "nobody", group: "nogroup"),
                        SafePaths.remove(root + "/home/data/secret"),
                        SafePaths.moveAside(root + "/home/data", to: root + "/home/data.old", owner: "nobody", group: "nogroup")] {
            let result = try await run(command)
            XCTAssertFalse(result.succeeded, "\(command.argv[3...])")
            XCTAssertTrue(result.stderr.contains("symbolic link"), result.stderr)
        }
        XCTAssertEqual(try stat(root + "/victim"), before)
        XCTAssertEqual(try stat(root + "/victim/secret"), "600 root root regular file")
        XCTAssertEqual(try String(contentsOfFile: root + "/victim/secret", encoding: .utf8), "root's\n")
    }

    func testARootLinkInARootDirectoryIsFollowed() async throws {
        // As /lib → usr/lib on a merged-/usr system: only root could have made it.
        try sh("mkdir \(root)/real && ln -s real \(root)/alias")
        let result = try await run(SafePaths.directory(root + "/alias/pgdata", mode: 0o700, owner: "nobody", group: "nogroup"))
        XCTAssertTrue(result.succeeded, result.stderr)
        XCTAssertEqual(try stat(root + "/real/pgdata"), "700 nobody nogroup directory")
    }

    func testDirectoriesAreMadeWithParentsAndMovedAside() async throws {
        let data = root + "/home/15/main"
        var result = try await run(SafePaths.directory(data, mode: 0o700, owner: "nobody", group: "nogroup"))
        XCTAssertTrue(result.succeeded, result.stderr)
        XCTAssertEqual(try stat(data), "700 nobody nogroup directory")
        XCTAssertEqual(try stat(root + "/home/15"), "755 root root directory", "a missing parent is root's, like mkdir -p")
        try sh("echo 15 > \(data)/PG_VERSION")
        result = try await run(SafePaths.moveAside(data, to: data + ".pgha-old-1", owner: "nobody", group: "nogroup"))
        XCTAssertTrue(result.succeeded, result.stderr)
        XCTAssertEqual(try sh("cat \(data).pgha-old-1/PG_VERSION"), "15\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: data), [])
        XCTAssertEqual(try stat(data), "700 nobody nogroup directory")
        // Never over something already aside.
        result = try await run(SafePaths.moveAside(data, to: data + ".pgha-old-1", owner: "nobody", group: "nogroup"))
        XCTAssertTrue(result.stderr.contains("exists already"), result.stderr)
        // A link is removed, never what it points to.
        try sh("ln -s \(root)/victim/secret \(root)/home/PGSQL.lock")
        result = try await run(SafePaths.remove(root + "/home/PGSQL.lock"))
        XCTAssertTrue(result.succeeded, result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/home/PGSQL.lock"))
        XCTAssertEqual(try String(contentsOfFile: root + "/victim/secret", encoding: .utf8), "root's\n")
    }
}
