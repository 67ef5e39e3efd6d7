import PghaTransport
import XCTest

/// The OpenSSH client transport against a real sshd (see TransportContract).
final class OpenSSHTransportTests: XCTestCase {
    func contract() throws -> TransportContract { try TransportContract(.openssh) }

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
    func testHashedAndOtherTypeEntriesAreRecognised() async throws { try await contract().hashedAndOtherTypeEntriesAreRecognised() }
    func testWrongUserAndRefusedKey() async throws { try await contract().wrongUserAndRefusedKey() }
    func testECDSAAndPassphraseKeys() async throws { try await contract().ecdsaAndPassphraseKeys() }
    func testAgentAuthentication() async throws { try await contract().agentAuthentication() }
    func testSudoForANonRootUser() async throws { try await contract().sudoForANonRootUser() }
    func testFiveHundredCommandsOverOneConnection() async throws { try await contract().manyCommandsOverOneConnection(500) }
    func testSixteenConcurrentConnections() async throws { try await contract().sixteenConcurrentConnections() }
    func testConnectFailuresSayWhy() async throws { try await contract().connectFailuresSayWhy() }
    func testCommandLogRedactsSecrets() async throws { try await contract().commandLogRedactsSecrets() }

    /// The OpenSSH client signs with rsa-sha2: the RSA key libssh2 cannot use works here.
    func testRSAKeyWorks() async throws {
        let contract = try contract()
        try await contract.with(contract.server.endpoint(key: "id_rsa")) { t in
            let value1 = try await t.exec("echo rsa").stdoutText
            XCTAssertEqual(value1, "rsa\n")
        }
    }
}
