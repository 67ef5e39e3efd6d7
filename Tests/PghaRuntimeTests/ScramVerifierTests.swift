import Foundation
import PghaRuntime
import PghaShell
import XCTest

/// The verifier against an independent implementation (Python's hashlib and hmac, RFC 5802's
/// definitions); that PostgreSQL accepts it is proven end to end: every standby's pg_basebackup
/// authenticates with scram-sha-256 against the role pgha set with it.
final class ScramVerifierTests: XCTestCase {
    func python(_ password: String, _ salt: [UInt8]) throws -> String {
        let script = """
            import base64, hashlib, hmac, sys
            password, salt = sys.argv[1].encode(), bytes.fromhex(sys.argv[2])
            salted = hashlib.pbkdf2_hmac('sha256', password, salt, 4096)
            client = hmac.new(salted, b'Client Key', 'sha256').digest()
            server = hmac.new(salted, b'Server Key', 'sha256').digest()
            b = lambda x: base64.b64encode(x).decode()
            print('SCRAM-SHA-256$4096:%s$%s:%s' % (b(salt), b(hashlib.sha256(client).digest()), b(server)), end='')
            """
        return try runLocally("\(Command("python3", "-c", script, password, salt.map { String(format: "%02x", $0) }.joined()))")
    }

    func testMatchesAnIndependentImplementation() throws {
        let salt: [UInt8] = Array(0..<16).map { UInt8($0 * 17 % 256) }
        for password in ["e2e-repl-123", "p@ss w'rd\"$(x)`;\\", String(repeating: "x", count: 200)] {
            XCTAssertEqual(ScramVerifier.make(password: password, salt: salt), try python(password, salt), password)
        }
    }

    func testSaltsDifferAndNonASCIIIsLeftToTheServer() {
        let a = ScramVerifier.make(password: "secret"), b = ScramVerifier.make(password: "secret")
        XCTAssertNotNil(a)
        XCTAssertNotEqual(a, b, "a fresh salt each time")
        XCTAssertTrue(a?.hasPrefix("SCRAM-SHA-256$4096:") == true)
        XCTAssertFalse(a?.contains("secret") == true)
        // SASLprep would normalise these; PostgreSQL does that itself from the clear text.
        XCTAssertNil(ScramVerifier.make(password: "pässwort"))
        XCTAssertNil(ScramVerifier.make(password: "tab\there"))
        XCTAssertNil(ScramVerifier.make(password: ""))
    }
}

/// The replication role's stored password judged from what the fact script prints, recorded
/// on the test bed (PostgreSQL 15 computing its own verifiers: `create role fx_scram login
/// password 'fixture-repl'`, and fx_md5 the same under password_encryption = md5; the fact
/// expression StoredPassword.sql printed for each).
final class StoredPasswordTests: XCTestCase {
    static let scram = "scram 4096 qKtEhaz3UMciufYknSxaPA== 3891dd068ed806fbbac4f1c268e3dfb3"
    static let md5 = "md5 5523cf28d15c0d9958de420809810ece"

    func testServerVerifiersMatchOnlyTheirPassword() {
        XCTAssertTrue(StoredPassword.parse(Self.scram).matches(password: "fixture-repl", user: "fx_scram"))
        XCTAssertFalse(StoredPassword.parse(Self.scram).matches(password: "fixture-rep", user: "fx_scram"))
        XCTAssertTrue(StoredPassword.parse(Self.md5).matches(password: "fixture-repl", user: "fx_md5"))
        XCTAssertFalse(StoredPassword.parse(Self.md5).matches(password: "fixture-repl", user: "repluser"), "md5 salts with the role name")
        XCTAssertFalse(StoredPassword.parse(Self.md5).matches(password: "other", user: "fx_md5"))
    }

    func testWhatAHostMayPrint() {
        XCTAssertEqual(StoredPassword.parse(""), .unknown)
        XCTAssertEqual(StoredPassword.parse("absent"), .absent)
        XCTAssertEqual(StoredPassword.parse("none"), .none)
        for garbage in ["scram 4096 !!notbase64 3891dd068ed806fbbac4f1c268e3dfb3", "scram x qKtEhaz3UMciufYknSxaPA== 3891dd068ed806fbbac4f1c268e3dfb3",
                        "scram 0 qKtEhaz3UMciufYknSxaPA== 3891dd068ed806fbbac4f1c268e3dfb3", "md5 3891DD068ED806FBBAC4F1C268E3DFB3", "md5 $(reboot)", "SCRAM-SHA-256$4096:abc"] {
            XCTAssertEqual(StoredPassword.parse(garbage), .none, garbage)
            XCTAssertFalse(StoredPassword.parse(garbage).matches(password: "fixture-repl", user: "fx_scram"), garbage)
        }
    }
}
