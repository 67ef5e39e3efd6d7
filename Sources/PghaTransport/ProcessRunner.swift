import CLibSSH2
import Foundation

/// Runs a local program with stdin, reading stdout and stderr at the same time (a child that
/// fills one pipe while we wait on the other would otherwise deadlock), with a deadline.
///
/// posix_spawn rather than Foundation's Process, because the child must start clean:
/// - Process hands on the spawning thread's signal mask, and Swift's worker threads block
///   nearly every signal, so a child (and everything it starts: bash, timeout, a daemon) could
///   not be stopped with SIGTERM; here the mask is emptied and dispositions reset to default
///   (SIGPIPE included, which this process ignores);
/// - only stdin/stdout/stderr are inherited (pipes are close-on-exec, and closefrom(3)), so a
///   daemon the command leaves behind cannot hold our pipes open;
/// - the child leads its own process group, so a timeout kills everything it started.
/// Each run gets a thread of its own: blocking work never sits on Swift's cooperative pool.
enum ProcessRunner {
    struct Output {
        var stdout: Data
        var stderr: Data
        var status: Int32
        var signal: Int32?
        var timedOut: Bool
    }

    struct SpawnFailure: Error, CustomStringConvertible {
        var executable: String
        var code: Int32
        var description: String { "cannot run \(executable): \(String(cString: strerror(code)))" }
    }

    static func run(_ executable: String, _ arguments: [String], stdin: Data?, timeout: Duration?,
                    environment: [String: String]? = nil) async throws -> Output {
        ignoreSIGPIPE()
        let child = Child()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let thread = Thread {
                    continuation.resume(with: Result {
                        try runBlocking(executable, arguments, stdin: stdin, timeout: timeout, environment: environment, child: child)
                    })
                }
                thread.stackSize = 512 * 1024
                thread.start()
            }
        } onCancel: {
            child.cancel()
        }
    }

    /// The running child, so that cancelling the awaiting task kills its process group.
    final class Child: @unchecked Sendable {
        private let lock = NSLock()
        private var pid: pid_t = 0
        private var cancelled = false

        func started(_ pid: pid_t) {
            lock.lock()
            defer { lock.unlock() }
            self.pid = pid
            if cancelled { kill(-pid, SIGKILL) }
        }

        func cancel() {
            lock.lock()
            defer { lock.unlock() }
            cancelled = true
            if pid > 0 { kill(-pid, SIGKILL) }
        }

        var wasCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }
    }

    static func runBlocking(_ executable: String, _ arguments: [String], stdin: Data?, timeout: Duration?,
                            environment: [String: String]?, child: Child = Child()) throws -> Output {
        var input: [Int32] = [-1, -1], output: [Int32] = [-1, -1], errors: [Int32] = [-1, -1]
        guard pipe2(&input, O_CLOEXEC) == 0 else { throw SpawnFailure(executable: executable, code: errno) }
        guard pipe2(&output, O_CLOEXEC) == 0 else {
            let code = errno
            close(input[0]); close(input[1])
            throw SpawnFailure(executable: executable, code: code)
        }
        guard pipe2(&errors, O_CLOEXEC) == 0 else {
            let code = errno
            for fd in input + output { close(fd) }
            throw SpawnFailure(executable: executable, code: code)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)
        posix_spawn_file_actions_addclosefrom_np(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { Glibc.free(pointer) } }
        let variables = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in variables { Glibc.free(pointer) } }

        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, variables)
        close(input[0]); close(output[1]); close(errors[1])
        guard spawned == 0 else {
            close(input[1]); close(output[0]); close(errors[0])
            throw SpawnFailure(executable: executable, code: spawned)
        }

        child.started(pid)
        var result = pump(pid: pid, stdinFD: input[1], stdoutFD: output[0], stderrFD: errors[0], stdin: stdin ?? Data(), timeout: timeout, child: child)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if status & 0x7f == 0 {
            result.status = (status >> 8) & 0xff
        } else {
            result.status = 0
            result.signal = status & 0x7f
        }
        if child.wasCancelled { throw CancellationError() }
        return result
    }

    /// Writes stdin and reads both outputs with poll(2) until both outputs end (or, once the
    /// child is gone, nothing arrives for a while), killing the process group at the deadline.
    private static func pump(pid: pid_t, stdinFD: Int32, stdoutFD: Int32, stderrFD: Int32, stdin: Data, timeout: Duration?, child: Child) -> Output {
        var result = Output(stdout: Data(), stderr: Data(), status: 0, signal: nil, timedOut: false)
        for fd in [stdinFD, stdoutFD, stderrFD] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        var inputFD: Int32 = stdinFD, outFD: Int32 = stdoutFD, errFD: Int32 = stderrFD
        var written = 0
        if stdin.isEmpty { close(inputFD); inputFD = -1 }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var exitedAt: ContinuousClock.Instant?
        var buffer = [UInt8](repeating: 0, count: 65536)
        while outFD >= 0 || errFD >= 0 {
            let now = ContinuousClock.now
            if let deadline, !result.timedOut, now >= deadline {
                result.timedOut = true
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
            }
            if exitedAt == nil, childExited(pid) { exitedAt = now }
            if let exitedAt {
                // Killed (timeout, cancellation): its output no longer matters. Exited on its
                // own: something it started (or an ssh master holding the descriptors it was
                // handed) may keep our pipes open; collect what comes soon, then stop.
                if result.timedOut || child.wasCancelled || now - exitedAt > .seconds(2) { break }
            }
            var fds: [pollfd] = []
            if outFD >= 0 { fds.append(pollfd(fd: outFD, events: Int16(POLLIN), revents: 0)) }
            if errFD >= 0 { fds.append(pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)) }
            if inputFD >= 0 { fds.append(pollfd(fd: inputFD, events: Int16(POLLOUT), revents: 0)) }
            var wait: Int32 = exitedAt == nil ? 200 : 20
            if let deadline, !result.timedOut { wait = min(wait, max(1, milliseconds(deadline - now))) }
            let ready = poll(&fds, nfds_t(fds.count), wait)
            if ready < 0 && errno != EINTR { break }
            if ready <= 0 { continue }
            for entry in fds where entry.revents != 0 {
                if entry.fd == inputFD {
                    let n = stdin.withUnsafeBytes { raw in
                        Glibc.write(inputFD, raw.baseAddress! + written, min(raw.count - written, 65536))
                    }
                    if n > 0 { written += n }
                    if (n < 0 && errno != EAGAIN && errno != EINTR) || written >= stdin.count {
                        close(inputFD)   // done, or the command closed its stdin (EPIPE)
                        inputFD = -1
                    }
                } else {
                    let n = buffer.withUnsafeMutableBytes { Glibc.read(entry.fd, $0.baseAddress, $0.count) }
                    if n > 0 {
                        if entry.fd == outFD { result.stdout.append(contentsOf: buffer[0..<n]) } else { result.stderr.append(contentsOf: buffer[0..<n]) }
                    } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                        close(entry.fd)
                        if entry.fd == outFD { outFD = -1 } else { errFD = -1 }
                    }
                }
            }
        }
        for fd in [inputFD, outFD, errFD] where fd >= 0 { close(fd) }
        return result
    }

    /// Whether the child has exited, without reaping it.
    private static func childExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        return waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info._sifields._sigchld.si_pid == pid
    }
}
