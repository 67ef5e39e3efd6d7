import CLibSSH2
import Foundation
import PghaShell

// libssh2 1.10 through its C API. Everything in this file runs on the connection's own thread
// (see SessionThread): a libssh2 session and its channels must never be touched from two
// threads. The session is non-blocking; every wait is a poll(2) on the socket with a deadline,
// so connect timeouts, command timeouts, keepalives and cancellation all work the same way.

private let libssh2Initialised: Int32 = {
    ignoreSIGPIPE()
    return libssh2_init(0)
}()

private let eagain: Int32 = -37                 // LIBSSH2_ERROR_EAGAIN
private let stderrStream: Int32 = 1             // SSH_EXTENDED_DATA_STDERR
private let windowSize: UInt32 = 2 * 1024 * 1024
private let packetSize: UInt32 = 32768
private let blockOutbound: Int32 = 2            // LIBSSH2_SESSION_BLOCK_OUTBOUND
private let socketErrors: Set<Int32> = [-1, -7, -13, -30, -43, -9]

/// Why a wait ended early.
enum Interrupt: Error {
    case deadline
    case cancelled
    case dead(String)
}

/// A libssh2 call that failed: its code and libssh2's message.
struct LibSSH2Failure: Error {
    var code: Int32
    var message: String
    var isSocket: Bool { socketErrors.contains(code) }
}

/// Set from another thread when the awaiting task is cancelled.
final class CancelFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

final class LibSSH2Connection {
    let endpoint: HostEndpoint
    private var session: OpaquePointer?
    private var socketFD: Int32 = -1
    private var sftp: OpaquePointer?
    private var sftpUnavailable = false
    /// The connection broke; the next command reconnects before it starts.
    private(set) var broken = false
    private var lastInbound = ContinuousClock.now
    private var cancel: CancelFlag?

    init(endpoint: HostEndpoint) {
        self.endpoint = endpoint
        _ = libssh2Initialised
    }

    var host: String { endpoint.name }
    var isConnected: Bool { session != nil && !broken }

    // MARK: - Connect

    func connect() throws {
        disconnect()
        let deadline = ContinuousClock.now + .seconds(max(1, endpoint.connectTimeout))
        do {
            try establish(deadline: deadline)
            broken = false
        } catch let error as TransportError {
            disconnect()
            throw error
        } catch Interrupt.cancelled {
            disconnect()
            throw CancellationError()
        } catch Interrupt.deadline {
            disconnect()
            throw TransportError(host: host, kind: .connect, "connecting to \(endpoint.display) took longer than \(endpoint.connectTimeout)s (connect_timeout)")
        } catch {
            disconnect()
            let why: String
            switch error {
            case Interrupt.dead(let reason): why = reason
            case let failure as LibSSH2Failure: why = failure.message
            default: why = "\(error)"
            }
            throw TransportError(host: host, kind: .connect, "connecting to \(endpoint.display) failed: \(why)")
        }
    }

    private func establish(deadline: ContinuousClock.Instant) throws {
        lastInbound = .now
        socketFD = try openSocket(deadline: deadline)
        guard let session = libssh2_session_init_ex(nil, nil, nil, nil) else {
            throw TransportError(host: host, kind: .connect, "libssh2 could not create a session (out of memory?)")
        }
        self.session = session
        libssh2_session_set_blocking(session, 0)

        let knownHosts: KnownHostsFile
        do { knownHosts = try KnownHostsFile(path: endpoint.knownHostsPath) } catch let error as TransportError {
            throw TransportError(host: host, kind: .connect, error.message)
        }
        // Ask for a host key type that known_hosts has for this host first (as OpenSSH does):
        // libssh2 would otherwise pick ECDSA and call a host with a recorded ed25519 key unknown.
        let recorded = knownHosts.recordedAlgorithms(session: session, host: endpoint.address, port: endpoint.port)
        let preference = recorded + HostKeyType.all.map(\.algorithm).filter { !recorded.contains($0) }
        _ = libssh2_session_method_pref(session, 1 /* LIBSSH2_METHOD_HOSTKEY */, preference.joined(separator: ","))

        do {
            try call(until: deadline) { libssh2_session_handshake(session, socketFD) }
        } catch let failure as LibSSH2Failure {
            throw TransportError(host: host, kind: .connect,
                                 "SSH handshake with \(endpoint.display) failed: \(failure.message)\(failure.code == -5 ? " (no common key exchange, cipher or host key algorithm; libssh2 1.10 lacks rsa-sha2 host keys: give the host an ed25519 key or use transport: openssh)" : "")")
        } catch Interrupt.deadline {
            throw TransportError(host: host, kind: .connect,
                                 "\(endpoint.display) accepted the TCP connection but did not complete the SSH handshake within \(endpoint.connectTimeout)s (connect_timeout)")
        }
        try verifyHostKey(knownHosts, session: session)
        try authenticate(session: session, deadline: deadline)
        if endpoint.keepaliveInterval > 0 {
            libssh2_keepalive_config(session, 1, UInt32(endpoint.keepaliveInterval))
        }
        lastInbound = .now
    }

    private func openSocket(deadline: ContinuousClock.Instant) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(endpoint.address, String(endpoint.port), &hints, &list)
        guard resolved == 0, let first = list else {
            throw TransportError(host: host, kind: .connect,
                                 "cannot resolve \(endpoint.address): \(String(cString: gai_strerror(resolved))); check the address in the inventory")
        }
        defer { freeaddrinfo(first) }
        var problem = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            guard fd >= 0 else { problem = String(cString: strerror(errno)); continue }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            _ = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
            guard errno == EINPROGRESS else { problem = String(cString: strerror(errno)); close(fd); continue }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            while true {
                let remaining = deadline - .now
                if remaining <= .zero {
                    close(fd)
                    throw TransportError(host: host, kind: .connect,
                                         "no answer from \(endpoint.display) within \(endpoint.connectTimeout)s (connect_timeout); is the host up and the port open?")
                }
                let ready = poll(&pfd, 1, milliseconds(remaining))
                if ready > 0 { break }
                if ready < 0 && errno != EINTR { break }
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if error == 0 { return fd }
            problem = String(cString: strerror(error))
            close(fd)
        }
        let hint = problem.contains("refused") ? " (is sshd running and listening on port \(endpoint.port)?)" : ""
        throw TransportError(host: host, kind: .connect, "cannot connect to \(endpoint.display): \(problem)\(hint)")
    }

    // MARK: - Host key

    private func verifyHostKey(_ knownHosts: KnownHostsFile, session: OpaquePointer) throws {
        var length = 0
        var typeCode: Int32 = 0
        guard let raw = libssh2_session_hostkey(session, &length, &typeCode), length > 0,
              let type = HostKeyType.from(code: typeCode) else {
            throw TransportError(host: host, kind: .connect, "\(endpoint.display) sent no usable host key")
        }
        let key = [UInt8](UnsafeRawBufferPointer(start: raw, count: length))
        let fingerprint = sha256Fingerprint(session: session)
        let file = knownHosts.path
        let field = KnownHostsFile.hostField(endpoint.address, port: endpoint.port)
        switch knownHosts.verdict(session: session, host: endpoint.address, port: endpoint.port, key: key, type: type) {
        case .match:
            return
        case .changed(let lines):
            let location = lines.first.map { "\(file):\($0)" } ?? file
            throw TransportError(host: host, kind: .hostKeyChanged,
                                 "HOST KEY CHANGED for \(field): it now presents \(type.algorithm) \(fingerprint), but \(location) records a different key. Someone may be intercepting the connection, or the host was reinstalled: verify the new key out of band, then remove the old entry (ssh-keygen -R '\(field)' -f \(file)) and connect again")
        case .revoked(let line):
            throw TransportError(host: host, kind: .hostKeyChanged,
                                 "the host key \(field) presented (\(type.algorithm) \(fingerprint)) is marked @revoked in \(file):\(line); pgha never accepts it. The host or its key is compromised, or was replaced: give it a new host key and record that one")
        case .checkFailed:
            throw TransportError(host: host, kind: .hostKeyUnknown,
                                 "the host key of \(field) could not be checked against \(file) (libssh2 failed to compare); nothing was recorded. Check \(file) with ssh-keygen -F '\(field)' -f \(file)")
        case .unknown(let others) where !others.isEmpty:
            throw TransportError(host: host, kind: .hostKeyChanged,
                                 "\(field) presented a \(type.algorithm) host key (\(fingerprint)), but \(file) records only \(others.joined(separator: ", ")) for it and the server did not offer that type; verify the host, then update \(file)")
        case .unknown:
            guard endpoint.hostKeyPolicy == .acceptNew else {
                throw TransportError(host: host, kind: .hostKeyUnknown,
                                     "the host key of \(field) (\(type.algorithm) \(fingerprint)) is not in \(file); verify the fingerprint, then add it (ssh-keyscan -p \(endpoint.port) \(endpoint.address) >> \(file)) or set host_key_policy: accept-new")
            }
            do {
                try KnownHostsFile.append(path: file, host: endpoint.address, port: endpoint.port, type: type, key: key)
            } catch {
                throw TransportError(host: host, kind: .hostKeyUnknown, "cannot record the host key of \(field) in \(file): \(error)")
            }
        }
    }

    // MARK: - Authentication

    private func authenticate(session: OpaquePointer, deadline: ContinuousClock.Instant) throws {
        let user = endpoint.user
        let methods: String
        while true {
            if let list = libssh2_userauth_list(session, user, UInt32(user.utf8.count)) {
                methods = String(cString: list)
                break
            }
            if libssh2_userauth_authenticated(session) != 0 { return }
            if libssh2_session_last_errno(session) == eagain {
                try waitOrFail(deadline, "authentication")
                continue
            }
            throw TransportError(host: host, kind: .authentication, "\(endpoint.display) ended the session before authentication: \(lastError().message)")
        }
        guard methods.split(separator: ",").contains("publickey") else {
            throw TransportError(host: host, kind: .authentication,
                                 "authentication as \(user) failed on \(endpoint.display): the server offers only \(methods) for \(user), and pgha authenticates with keys; allow publickey in sshd_config")
        }
        var notes: [String] = []
        if let keyPath = endpoint.keyPath {
            if try authenticate(session: session, keyFile: keyPath, deadline: deadline, notes: &notes) { return }
        } else {
            if let agent = endpoint.agentPath {
                if try authenticateWithAgent(session: session, socket: agent, deadline: deadline, notes: &notes) { return }
            }
            let home = expandTilde("~/.ssh/")
            let defaults = ["id_ed25519", "id_ecdsa"].map { home + $0 }.filter { FileManager.default.isReadableFile(atPath: $0) }
            for key in defaults {
                if try authenticate(session: session, keyFile: key, deadline: deadline, notes: &notes) { return }
            }
            if endpoint.agentPath == nil && defaults.isEmpty {
                notes.append("no key to offer: set ssh_key in the inventory, or start ssh-agent and add a key")
            }
        }
        throw TransportError(host: host, kind: .authentication,
                             "authentication as \(user) failed on \(endpoint.display): " + notes.joined(separator: "; "))
    }

    private static let rsaNote = "libssh2 1.10 (Debian 12) signs RSA keys only with SHA-1 (ssh-rsa), which OpenSSH 8.8 and later refuse; use an ed25519 key (ssh-keygen -t ed25519) or set transport: openssh for this host"

    /// true when accepted; false (with a note) when refused or unusable.
    private func authenticate(session: OpaquePointer, keyFile: String, deadline: ContinuousClock.Instant, notes: inout [String]) throws -> Bool {
        guard FileManager.default.isReadableFile(atPath: keyFile) else {
            notes.append("key file \(keyFile) does not exist or is not readable")
            return false
        }
        let info = PrivateKeyInfo.read(keyFile)
        let user = endpoint.user
        let passphrase = endpoint.keyPassphrase ?? ""
        let rc: Int32
        do {
            rc = try call(until: deadline, allowFailure: true) {
                libssh2_userauth_publickey_fromfile_ex(session, user, UInt32(user.utf8.count), nil, keyFile, passphrase)
            }
        } catch Interrupt.deadline {
            throw TransportError(host: host, kind: .authentication, "authentication as \(user) on \(endpoint.display) did not finish within \(endpoint.connectTimeout)s (connect_timeout)")
        }
        if rc == 0 { return true }
        let error = lastError()
        switch rc {
        case -16: // LIBSSH2_ERROR_FILE
            if info.encrypted && endpoint.keyPassphrase == nil {
                notes.append("key \(keyFile) is protected by a passphrase: give key_passphrase (an env or file reference) or load the key into ssh-agent")
            } else if info.encrypted {
                notes.append("wrong passphrase for key \(keyFile)")
            } else {
                notes.append("libssh2 cannot use key \(keyFile) (\(error.message)); use an ed25519 or ECDSA key in OpenSSH format, or set transport: openssh")
            }
        case -18, -19: // AUTHENTICATION_FAILED, PUBLICKEY_UNVERIFIED
            if info.isRSA {
                notes.append("the server refused the RSA key \(keyFile): \(Self.rsaNote)")
            } else {
                notes.append("the server refused key \(keyFile) for \(user) (does the user exist, and is \(keyFile).pub in its authorized_keys?)")
            }
        default:
            if socketErrors.contains(rc) {
                throw TransportError(host: host, kind: .authentication, "\(endpoint.display) closed the connection during authentication: \(error.message)")
            }
            notes.append("key \(keyFile): \(error.message)")
        }
        return false
    }

    private func authenticateWithAgent(session: OpaquePointer, socket: String, deadline: ContinuousClock.Instant, notes: inout [String]) throws -> Bool {
        guard let agent = libssh2_agent_init(session) else { return false }
        defer { libssh2_agent_free(agent) }
        libssh2_agent_set_identity_path(agent, socket)
        guard libssh2_agent_connect(agent) == 0 else {
            notes.append("cannot reach ssh-agent at \(socket)")
            return false
        }
        defer { libssh2_agent_disconnect(agent) }
        guard libssh2_agent_list_identities(agent) == 0 else {
            notes.append("ssh-agent at \(socket) did not list its keys")
            return false
        }
        var previous: UnsafeMutablePointer<libssh2_agent_publickey>?
        var refused: [String] = []
        while true {
            var identity: UnsafeMutablePointer<libssh2_agent_publickey>?
            guard libssh2_agent_get_identity(agent, &identity, previous) == 0, let current = identity else { break }
            previous = current
            let blob = current.pointee.blob.map { [UInt8](UnsafeBufferPointer(start: $0, count: current.pointee.blob_len)) } ?? []
            let algorithm = publicKeyAlgorithm(blob) ?? "?"
            let comment = current.pointee.comment.map { String(cString: $0) } ?? ""
            let rc: Int32
            do {
                rc = try call(until: deadline, allowFailure: true) { libssh2_agent_userauth(agent, endpoint.user, current) }
            } catch Interrupt.deadline {
                throw TransportError(host: host, kind: .authentication, "authentication as \(endpoint.user) on \(endpoint.display) did not finish within \(endpoint.connectTimeout)s (connect_timeout)")
            }
            if rc == 0 { return true }
            if socketErrors.contains(rc) {
                throw TransportError(host: host, kind: .authentication, "\(endpoint.display) closed the connection during authentication (too many keys offered? MaxAuthTries): \(lastError().message)")
            }
            refused.append("\(algorithm)\(comment.isEmpty ? "" : " \(comment)")")
        }
        if refused.isEmpty {
            notes.append("ssh-agent at \(socket) holds no keys")
        } else {
            let rsaOnly = refused.allSatisfy { $0.hasPrefix("ssh-rsa") }
            notes.append("the server refused every key in ssh-agent (\(refused.joined(separator: ", ")))" + (rsaOnly ? ": \(Self.rsaNote)" : ""))
        }
        return false
    }

    // MARK: - Waiting

    /// Calls `op` until it stops returning EAGAIN; throws LibSSH2Failure for a negative result
    /// unless `allowFailure`.
    @discardableResult
    private func call(until deadline: ContinuousClock.Instant?, allowFailure: Bool = false, _ op: () -> Int32) throws -> Int32 {
        while true {
            let rc = op()
            if rc == eagain {
                try waitSocket(until: deadline)
                continue
            }
            if rc < 0 && !allowFailure {
                var failure = lastError()
                failure.code = rc
                throw failure
            }
            return rc
        }
    }

    private func waitOrFail(_ deadline: ContinuousClock.Instant, _ what: String) throws {
        do { try waitSocket(until: deadline) } catch Interrupt.deadline {
            throw TransportError(host: host, kind: .connect, "\(what) with \(endpoint.display) did not finish within \(endpoint.connectTimeout)s (connect_timeout)")
        }
    }

    /// Waits until the socket is ready in the direction libssh2 is blocked on (and for inbound
    /// data in any case), sending keepalives; throws at the deadline, on cancellation, or when
    /// the server has not answered for three keepalive intervals.
    private func waitSocket(until deadline: ContinuousClock.Instant?, wantWrite: Bool = false) throws {
        guard let session else { throw Interrupt.dead("the session is closed") }
        if cancel?.isSet == true { throw Interrupt.cancelled }
        let now = ContinuousClock.now
        if let deadline, now >= deadline { throw Interrupt.deadline }
        let interval = endpoint.keepaliveInterval
        if interval > 0 {
            var next: Int32 = 0
            _ = libssh2_keepalive_send(session, &next)
            if now - lastInbound > .seconds(interval * 3 + 1) {
                throw Interrupt.dead("no answer from the server for \(interval * 3)s (3 keepalives)")
            }
        }
        var events = Int16(POLLIN)
        if wantWrite || libssh2_session_block_directions(session) & blockOutbound != 0 { events |= Int16(POLLOUT) }
        var slice: Duration = .milliseconds(250)
        if let deadline { slice = min(slice, deadline - now) }
        var pfd = pollfd(fd: socketFD, events: events, revents: 0)
        quickAck()
        let ready = poll(&pfd, 1, milliseconds(slice))
        if ready > 0 {
            if pfd.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 { lastInbound = .now }
            if pfd.revents & Int16(POLLNVAL) != 0 { throw Interrupt.dead("the socket is closed") }
        }
    }

    /// sshd leaves Nagle on for sessions without a terminal, so its small closing packets wait
    /// for our ACK of the output before them; Linux would delay that ACK by 40 ms or more. Quick
    /// ACK mode is not sticky, so it is set again before every wait.
    private func quickAck() {
        var one: Int32 = 1
        _ = setsockopt(socketFD, Int32(IPPROTO_TCP), 12 /* TCP_QUICKACK */, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    private func lastError() -> LibSSH2Failure {
        guard let session else { return LibSSH2Failure(code: -1, message: "no session") }
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        let code = libssh2_session_last_error(session, &message, &length, 0)
        return LibSSH2Failure(code: code, message: message.map { String(cString: $0) } ?? "error \(code)")
    }

    // MARK: - Commands

    /// Runs one command on a fresh channel. Reconnects first when the connection broke earlier
    /// (nothing of this command has run then).
    func exec(_ command: String, script: String, stdin: Data?, timeout: Duration?, cancel: CancelFlag?) throws -> ExecResult {
        self.cancel = cancel
        defer { self.cancel = nil }
        if !isConnected { try connect() }
        reapAbandoned()
        // Silence before this command says nothing about the server: the keepalive clock starts now.
        lastInbound = .now
        let line = remoteCommandLine(script, sudo: endpoint.sudo, timeout: timeout)
        let started = ContinuousClock.now
        // The remote `timeout` kills the command; the local deadline only catches a server that
        // stopped answering.
        let hardDeadline = timeout.map { started + $0 + .seconds(5) }
        let channel: OpaquePointer
        do {
            channel = try openChannel(command)
        } catch let failure as LibSSH2Failure where failure.isSocket {
            broken = true
            try connect()
            channel = try openChannel(command)
        }
        var closed = false
        defer {
            if !closed { abandon(channel) }
        }
        do {
            trace("open", started)
            try call(until: .now + .seconds(30)) {
                libssh2_channel_process_startup(channel, "exec", 4, line, UInt32(line.utf8.count))
            }
            trace("startup", started)
            let (stdout, stderr) = try pump(channel, stdin: stdin, deadline: hardDeadline)
            trace("pump", started)
            try call(until: .now + .seconds(10)) { libssh2_channel_close(channel) }
            trace("close", started)
            try call(until: .now + .seconds(10)) { libssh2_channel_wait_closed(channel) }
            trace("closed", started)
            let status = libssh2_channel_get_exit_status(channel)
            var signal: UnsafeMutablePointer<CChar>?
            var signalLength = 0
            _ = libssh2_channel_get_exit_signal(channel, &signal, &signalLength, nil, nil, nil, nil)
            var signalName: String?
            if let signal {
                signalName = signalLength > 0 ? String(decoding: UnsafeRawBufferPointer(start: signal, count: signalLength), as: UTF8.self) : nil
                libssh2_free(session, signal)
            }
            closed = true
            release(channel)
            let result = ExecResult(stdout: stdout, stderr: stderr, exitStatus: status, exitSignal: signalName)
            if let timeout, signalName == "KILL", ContinuousClock.now - started >= timeout {
                throw timeoutError(endpoint, command, timeout)
            }
            return result
        } catch Interrupt.deadline {
            if let timeout { throw timeoutError(endpoint, command, timeout) }
            broken = true
            throw TransportError(host: host, kind: .connectionLost,
                                 "\(endpoint.display) stopped answering while starting or ending `\(abbreviated(command))`; the connection will be reopened for the next command")
        } catch Interrupt.cancelled {
            throw CancellationError()
        } catch Interrupt.dead(let why) {
            broken = true
            throw TransportError(host: host, kind: .connectionLost, "the connection to \(endpoint.display) was lost while running `\(abbreviated(command))`: \(why); it will be reopened for the next command")
        } catch let failure as LibSSH2Failure {
            if failure.isSocket { broken = true }
            throw TransportError(host: host, kind: failure.isSocket ? .connectionLost : .other,
                                 "`\(abbreviated(command))` failed on \(endpoint.display): \(failure.message)")
        }
    }

    private func openChannel(_ command: String) throws -> OpaquePointer {
        guard let session else { throw LibSSH2Failure(code: -13, message: "not connected") }
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            if let channel = libssh2_channel_open_ex(session, "session", 7, windowSize, packetSize, nil, 0) {
                return channel
            }
            let code = libssh2_session_last_errno(session)
            if code == eagain {
                do { try waitSocket(until: deadline) } catch Interrupt.deadline {
                    throw LibSSH2Failure(code: -9, message: "the server did not open a channel within 30s")
                } catch Interrupt.dead(let why) {
                    throw LibSSH2Failure(code: -13, message: why)
                }
                continue
            }
            throw lastError()
        }
    }

    /// Reads stdout and stderr and writes stdin at the same time until the remote side ends
    /// both output streams: a command filling one pipe while we wait on the other never blocks.
    private func pump(_ channel: OpaquePointer, stdin: Data?, deadline: ContinuousClock.Instant?) throws -> (Data, Data) {
        var stdout = Data(), stderr = Data()
        var buffer = [CChar](repeating: 0, count: 65536)
        let input = stdin ?? Data()
        var written = 0
        var eofSent = false
        var writeBlocked = false
        lastInbound = .now
        while true {
            var progressed = false
            writeBlocked = false
            if !eofSent {
                if written < input.count {
                    let n = input.withUnsafeBytes { raw in
                        libssh2_channel_write_ex(channel, 0, raw.baseAddress!.assumingMemoryBound(to: CChar.self) + written,
                                                 min(input.count - written, 65536))
                    }
                    if n > 0 {
                        written += n
                        progressed = true
                    } else if n == Int(eagain) {
                        writeBlocked = libssh2_session_block_directions(session) & blockOutbound != 0
                    } else if n < 0 {
                        if socketErrors.contains(Int32(n)) { throw lastError() }
                        written = input.count   // the command closed its stdin: the rest is not wanted
                    }
                }
                if written >= input.count {
                    let rc = libssh2_channel_send_eof(channel)
                    if rc == 0 || (rc < 0 && rc != eagain && !socketErrors.contains(rc)) {
                        eofSent = true
                        progressed = true
                    } else if rc == eagain {
                        writeBlocked = true
                    } else {
                        throw lastError()
                    }
                }
            }
            for stream in [Int32(0), stderrStream] {
                while true {
                    let n = buffer.withUnsafeMutableBufferPointer { libssh2_channel_read_ex(channel, stream, $0.baseAddress, $0.count) }
                    if n > 0 {
                        buffer.withUnsafeBufferPointer { chars in
                            chars.withMemoryRebound(to: UInt8.self) { bytes in
                                if stream == 0 { stdout.append(bytes.baseAddress!, count: n) } else { stderr.append(bytes.baseAddress!, count: n) }
                            }
                        }
                        progressed = true
                        lastInbound = .now
                    } else if n == 0 || n == Int(eagain) {
                        break
                    } else {
                        throw lastError()
                    }
                }
            }
            if libssh2_channel_eof(channel) != 0 { return (stdout, stderr) }
            if !progressed { try waitSocket(until: deadline, wantWrite: writeBlocked) }
        }
    }

    private func release(_ channel: OpaquePointer) {
        let deadline = ContinuousClock.now + .seconds(5)
        while libssh2_channel_free(channel) == eagain {
            if (try? waitSocket(until: deadline)) == nil { broken = true; return }
        }
    }

    /// A channel given up on (timeout, cancellation, error). Our close goes out now, but sshd
    /// answers only once the command has exited, and libssh2 1.10 frees a channel only after
    /// that answer: so the channel is parked and freed by a later operation, never waited for.
    private func abandon(_ channel: OpaquePointer) {
        _ = libssh2_channel_close(channel)
        abandoned.append(channel)
        reapAbandoned()
    }

    private var abandoned: [OpaquePointer] = []

    private func reapAbandoned() {
        abandoned.removeAll { libssh2_channel_free($0) != eagain }
    }

    // MARK: - Upload

    /// SFTP when logged in as the user who should write (exact mode with fsetstat, which the
    /// umask does not touch; SFTP rename will not replace a file, so the final step is `mv -f`);
    /// the shell recipe over stdin when sudo is involved or the server has no SFTP.
    func upload(_ bytes: Data, to path: String, mode: UInt32, owner: String?, group: String?, cancel: CancelFlag?) throws {
        self.cancel = cancel
        defer { self.cancel = nil }
        if !isConnected { try connect() }
        lastInbound = .now
        if !endpoint.sudo, let sftp = try? sftpSession() {
            try sftpUpload(sftp, bytes, to: path, mode: mode, owner: owner, group: group)
            return
        }
        let script = uploadScript(to: path, mode: mode, owner: owner, group: group)
        let result = try exec("upload \(path)", script: innerScript(script), stdin: bytes, timeout: nil, cancel: cancel)
        if let problem = sudoProblem(result, endpoint: endpoint) { throw problem }
        guard result.succeeded else {
            throw TransportError(host: host, kind: .upload, "upload to \(path) failed: \(result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    private func sftpSession() throws -> OpaquePointer {
        if let sftp { return sftp }
        guard !sftpUnavailable, let session else { throw LibSSH2Failure(code: -31, message: "no SFTP") }
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            if let sftp = libssh2_sftp_init(session) {
                self.sftp = sftp
                return sftp
            }
            if libssh2_session_last_errno(session) == eagain {
                try waitSocket(until: deadline)
                continue
            }
            let failure = lastError()
            if failure.isSocket { broken = true; throw failure }
            sftpUnavailable = true
            throw failure
        }
    }

    private func sftpUpload(_ sftp: OpaquePointer, _ bytes: Data, to path: String, mode: UInt32, owner: String?, group: String?) throws {
        let temporary = temporaryName(for: path)
        let deadline = ContinuousClock.now + .seconds(max(60, bytes.count / 1_000_000))
        func failure(_ what: String) -> TransportError {
            let code = libssh2_sftp_last_error(sftp)
            let reason: String
            switch code {
            case 2, 10: reason = "no such folder \((path as NSString).deletingLastPathComponent)"
            case 3: reason = "permission denied (the folder is not writable by \(endpoint.user); use sudo: true or connect as root)"
            case 4: reason = "failure (disk full or read-only file system?)"
            default: reason = lastError().message + (code != 0 ? " (SFTP status \(code))" : "")
            }
            return TransportError(host: host, kind: .upload, "upload to \(path) failed: \(what): \(reason)")
        }
        var handle: OpaquePointer?
        while true {
            handle = libssh2_sftp_open_ex(sftp, temporary, UInt32(temporary.utf8.count),
                                          UInt(0x02 | 0x08 | 0x20) /* WRITE|CREAT|EXCL */, 0o600, 0 /* OPENFILE */)
            if handle != nil { break }
            guard libssh2_session_last_errno(session) == eagain else { throw failure("cannot create \(temporary)") }
            try waitSocket(until: deadline)
        }
        guard let file = handle else { throw failure("cannot create \(temporary)") }
        var open = true
        func removeTemporary() {
            if open { _ = try? call(until: .now + .seconds(5), allowFailure: true) { libssh2_sftp_close_handle(file) }; open = false }
            _ = try? call(until: .now + .seconds(5), allowFailure: true) { libssh2_sftp_unlink_ex(sftp, temporary, UInt32(temporary.utf8.count)) }
        }
        do {
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { raw in
                    libssh2_sftp_write(file, raw.baseAddress!.assumingMemoryBound(to: CChar.self) + offset, bytes.count - offset)
                }
                if n >= 0 { offset += n; continue }
                if n == Int(eagain) { try waitSocket(until: deadline); continue }
                throw failure("writing \(temporary)")
            }
            var attributes = LIBSSH2_SFTP_ATTRIBUTES()
            attributes.flags = 0x04 // LIBSSH2_SFTP_ATTR_PERMISSIONS
            attributes.permissions = UInt(mode)
            if try call(until: deadline, allowFailure: true, { libssh2_sftp_fstat_ex(file, &attributes, 1) }) < 0 {
                throw failure("setting mode \(String(mode, radix: 8)) on \(temporary)")
            }
            let closed = try call(until: deadline, allowFailure: true) { libssh2_sftp_close_handle(file) }
            open = false
            if closed < 0 { throw failure("closing \(temporary)") }
        } catch let error as TransportError {
            removeTemporary()
            throw error
        } catch {
            removeTemporary()
            throw translate(error, "upload \(path)")
        }
        // chown clears setuid/setgid bits, so the mode is set again after it.
        let steps = settle(temporary, to: path, mode: mode, owner: owner, group: group, always: false)
        let script: Shell = "{ \(Shell.all(steps)); } || { rc=$?; rm -f \(temporary); exit $rc; }"
        let result = try exec("upload \(path)", script: innerScript(script.text), stdin: nil, timeout: nil, cancel: cancel)
        guard result.succeeded else {
            throw TransportError(host: host, kind: .upload, "upload to \(path) failed: \(result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    private func translate(_ error: Error, _ what: String) -> Error {
        switch error {
        case Interrupt.cancelled: return CancellationError()
        case Interrupt.deadline: return TransportError(host: host, kind: .timeout, "\(what) did not finish in time")
        case Interrupt.dead(let why):
            broken = true
            return TransportError(host: host, kind: .connectionLost, "the connection to \(endpoint.display) was lost during \(what): \(why)")
        case let failure as LibSSH2Failure:
            if failure.isSocket { broken = true }
            return TransportError(host: host, kind: failure.isSocket ? .connectionLost : .other, "\(what) failed: \(failure.message)")
        default: return error
        }
    }

    // MARK: - Idle and close

    /// Between commands: keepalives, and noticing a connection the server closed so the next
    /// command reconnects instead of failing.
    func idle() {
        guard let session, !broken else { return }
        reapAbandoned()
        if endpoint.keepaliveInterval > 0 {
            var next: Int32 = 0
            let rc = libssh2_keepalive_send(session, &next)
            if rc != 0 && rc != eagain { broken = true }
        }
        var byte: UInt8 = 0
        let peeked = recv(socketFD, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if peeked == 0 || (peeked < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { broken = true }
    }

    func disconnect() {
        if let session {
            // A channel still waiting for the server, or a dead connection, would make
            // libssh2_session_free wait for the server: end the socket first so it does not.
            if broken || !abandoned.isEmpty { shutdown(socketFD, Int32(SHUT_RDWR)) }
            abandoned = []
            // Blocking with a short timeout: the goodbye is best effort, never a hang.
            libssh2_session_set_blocking(session, 1)
            libssh2_session_set_timeout(session, 1000)
            if !broken, let sftp { _ = libssh2_sftp_shutdown(sftp) }
            if !broken { _ = libssh2_session_disconnect_ex(session, 11 /* SSH_DISCONNECT_BY_APPLICATION */, "pgha done", "") }
            _ = libssh2_session_free(session)
        }
        sftp = nil
        sftpUnavailable = false
        session = nil
        if socketFD >= 0 { close(socketFD) }
        socketFD = -1
    }
}

let tracing = ProcessInfo.processInfo.environment["PGHA_SSH_TRACE"] != nil
func trace(_ what: String, _ since: ContinuousClock.Instant) {
    if tracing { FileHandle.standardError.write(Data("trace \(what) \(ContinuousClock.now - since)\n".utf8)) }
}

func milliseconds(_ duration: Duration) -> Int32 {
    let ms = (duration.seconds * 1000).rounded(.up)
    return Int32(max(0, min(ms, Double(Int32.max))))
}
