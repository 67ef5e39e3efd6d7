import PghaTransport
import XCTest

/// The libssh2 transport against a real sshd (see TransportContract).
final class LibSSH2TransportTests: XCTestCase {
    func contract() throws -> TransportContract { try TransportContract(.libssh2) }

    func testExitCodesStreamsAndEnvironment() async throws { try await contract().exitCodesStreamsAndEnvironment() }
    func testKilledCommandReportsItsSignal() async throws { try await contract().killedCommandReportsItsSignal() }
    func testMegabytesOnBothStreamsAtOnce() async throws { try await contract().megabytesOnBothStreamsAtOnce() }
    func testStdinReachesTheCommand() async throws { try await contract().stdinReachesTheCommand() }
    func testUploadsExactModesOwnersAndReplacesAtomically() async throws { try await contract().uploadsExactModesOwnersAndReplacesAtomically() }
    func testTimeoutKillsTheRemoteCommand() async throws { try await contract().timeoutKillsTheRemoteCommand() }
    func testLostConnectionIsReportedThenReopened() async throws { try await contract().lostConnectionIsReportedThenReopened() }
    func testFrozenServerIsDetectedByKeepalives() async throws { try await contract().frozenServerIsDetectedByKeepalives() }
    func testCancellationEndsTheWait() async throws { try await contract().cancellationEndsTheWait() }
    func testUnknownHostIsRefusedUnlessAcceptNew() async throws { try await contract().unknownHostIsRefusedUnlessAcceptNew() }
    func testChangedHostKeyIsAlwaysAnErrorNamingFileAndLine() async throws { try await contract().changedHostKeyIsAlwaysAnErrorNamingFileAndLine() }
    func testRevokedHostKeyIsRefused() async throws { try await contract().revokedHostKeyIsRefused() }
    func testHashedAndOtherTypeEntriesAreRecognised() async throws { try await contract().hashedAndOtherTypeEntriesAreRecognised() }
    func testWrongUserAndRefusedKey() async throws { try await contract().wrongUserAndRefusedKey() }
    func testECDSAAndPassphraseKeys() async throws { try await contract().ecdsaAndPassphraseKeys() }
    func testAgentAuthentication() async throws { try await contract().agentAuthentication() }
    func testSudoForANonRootUser() async throws { try await contract().sudoForANonRootUser() }
    func testFiveHundredCommandsOverOneConnection() async throws { try await contract().manyCommandsOverOneConnection(500) }
    func testSixteenConcurrentConnections() async throws { try await contract().sixteenConcurrentConnections() }
    func testConnectFailuresSayWhy() async throws { try await contract().connectFailuresSayWhy() }
    func testCommandLogRedactsSecrets() async throws { try await contract().commandLogRedactsSecrets() }

    /// A connection idle for longer than three keepalive intervals is not mistaken for a dead
    /// one when the next command starts (its silence was ours, not the server's).
    func testIdleConnectionStaysUsable() async throws {
        let contract = try contract()
        var endpoint = contract.server.endpoint()
        endpoint.keepaliveInterval = 1
        try await contract.with(endpoint) { t in
            let one = try await t.check("echo one")
            XCTAssertEqual(one, "one\n")
            try await Task.sleep(for: .milliseconds(4500))   // the idle period under test
            let two = try await t.check("echo two")
            XCTAssertEqual(two, "two\n")
        }
    }

    /// libssh2 1.10 signs RSA keys with SHA-1 only, which this OpenSSH refuses: the error must
    /// say so and name both fixes.
    func testRSAKeyIsRefusedWithAnExplanation() async throws {
        let contract = try contract()
        await expectError(.authentication, ["RSA key", "id_rsa", "SHA-1", "OpenSSH 8.8", "ed25519", "transport: openssh"]) {
            _ = try await contract.connect(contract.server.endpoint(key: "id_rsa"))
        }
    }
}
