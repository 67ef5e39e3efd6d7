import Foundation
import PghaRuntime
import PghaShell

/// One apply at a time per cluster: `apply` holds a lock on every host before it changes
/// anything. The lock is a file in root's /run (`/run/pgha/apply.lock`, created with O_EXCL),
/// holding who took it (run id, controller host, pid, start) and when its holder last renewed
/// it; the holder renews it every 15 s while it runs and removes it at the end.
///
/// A held lock is taken over at once when its holder is provably gone (this controller, its
/// process no longer exists), when its lease was not renewed for `leaseSeconds`, or with
/// `--break-lock`; otherwise the second apply is refused, naming the holder.
public struct ApplyLock: Sendable {
    public static let defaultPath = "/run/pgha/apply.lock"
    public static let leaseSeconds = 60
    public static let renewEvery: Duration = .seconds(15)

    /// What a lock file says.
    public struct Holder: Equatable, Sendable, CustomStringConvertible {
        public var run: String
        public var controller: String
        public var pid: Int32
        public var started: Int
        public var renewed: Int

        public init(run: String, controller: String, pid: Int32, started: Int, renewed: Int) {
            self.run = run
            self.controller = controller
            self.pid = pid
            self.started = started
            self.renewed = renewed
        }

        /// key=value lines; nil when the text is not a lock of pgha's.
        public init?(_ text: String) {
            let values = keyValueLines(text)
            guard let run = values["run"], let controller = values["controller"], let pid = values["pid"].flatMap(Int32.init),
                  let started = values["started"].flatMap(Int.init), let renewed = values["renewed"].flatMap(Int.init) else { return nil }
            self.init(run: run, controller: controller, pid: pid, started: started, renewed: renewed)
        }

        public var text: String { "run=\(run)\ncontroller=\(controller)\npid=\(pid)\nstarted=\(started)\nrenewed=\(renewed)\n" }

        public var description: String {
            let since = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(started)))
            return "run \(run) of pgha pid \(pid) on \(controller), since \(since)"
        }
    }

    /// What to do about a lock found on a host, given the host's clock.
    public enum Verdict: Equatable, Sendable {
        case refuse(String)
        case takeOver(String)
    }

    /// Pure: whether a held lock may be taken over, and what to say.
    public static func judge(_ holder: Holder?, raw: String, now: Int, me: Holder, breakLock: Bool, path: String = defaultPath,
                             processExists: (Int32) -> Bool) -> Verdict {
        guard let holder else {
            return breakLock ? .takeOver("a lock file pgha cannot read was replaced (--break-lock)")
                : .refuse("\(path) holds something pgha cannot read (\(raw.prefix(80).debugDescription)); remove it if no apply runs, or use --break-lock")
        }
        let age = now - holder.renewed
        if breakLock { return .takeOver("took the lock of \(holder) (--break-lock)") }
        if holder.controller == me.controller && !processExists(holder.pid) {
            return .takeOver("took over the lock of \(holder): that process is gone")
        }
        if age > leaseSeconds { return .takeOver("took over the lock of \(holder): not renewed for \(age) s") }
        return .refuse("an apply is running: \(holder), last renewed \(max(0, age)) s ago. Wait for it to end; if it is gone, its lease ends \(leaseSeconds) s after its last renewal (or use --break-lock)")
    }

    public let me: Holder
    let connections: [String: any HostConnection]
    /// The lock file on each host (defaultPath; tests use their own).
    public let path: String

    /// Who this apply is.
    public static func holder(run: String) -> Holder {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count)
        let now = Int(Date().timeIntervalSince1970)
        return Holder(run: run, controller: String(cString: name), pid: getpid(), started: now, renewed: now)
    }

    /// Takes the lock on every host, or none: a refusal on one host releases the others. Hosts
    /// are taken one by one in name order, so of two applies started together the one that
    /// wins the first host wins them all (in parallel, each could win some and both give up).
    public static func acquire(_ connections: [String: any HostConnection], run: String, breakLock: Bool,
                               path: String = defaultPath) async throws -> (ApplyLock, [String]) {
        let me = holder(run: run)
        let lock = ApplyLock(me: me, connections: connections, path: path)
        var notes: [String] = []
        for host in connections.keys.sorted() {
            guard let connection = connections[host] else { continue }
            do {
                if let note = try await lock.take(on: connection, breakLock: breakLock) { notes.append("\(host): \(note)") }
            } catch {
                await lock.release()
                throw SessionFailure(["error: \(host): \((error as? StepFailure)?.message ?? "\(error)")", "Nothing was changed."])
            }
        }
        return (lock, notes)
    }

    /// One host: create the file exclusively; if it exists, judge it and take it over
    /// (only if it still says what was read: compare and swap) or refuse.
    func take(on connection: any HostConnection, breakLock: Bool) async throws -> String? {
        let dir = (path as NSString).deletingLastPathComponent
        let create: Shell = "mkdir -p -m 700 \(dir) && if ( set -C; printf '%s' \(me.text) > \(path) ) 2>/dev/null; then echo acquired; else echo \"now=$(date +%s)\"; cat \(path); fi"
        let answer = try await connection.run(create, stdin: nil)
        guard answer.succeeded else { throw StepFailure(host: connection.name, step: "lock", message: "cannot create \(path): \(answer.stderr)") }
        if answer.stdout == "acquired\n" { return nil }
        let lines = answer.stdout.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let now = Int(lines.first?.dropFirst(4) ?? "") ?? 0
        let raw = lines.count > 1 ? String(lines[1]) : ""
        let verdict = Self.judge(Holder(raw), raw: raw, now: now, me: me, breakLock: breakLock, path: path,
                                 processExists: { kill($0, 0) == 0 || errno == EPERM })
        switch verdict {
        case .refuse(let why):
            throw StepFailure(host: connection.name, step: "lock", message: why)
        case .takeOver(let note):
            let swap: Shell = "[ \"$(cat \(path))\" = \(raw.trimmingCharacters(in: .newlines)) ] && printf '%s' \(me.text) > \(path).new && mv -f \(path).new \(path) && echo taken"
            let swapped = try await connection.run(swap, stdin: nil)
            guard swapped.stdout == "taken\n" else {
                throw StepFailure(host: connection.name, step: "lock", message: "another apply took the lock at the same moment; nothing was changed")
            }
            // What the gone apply left running (a clone, a build) stops before this one starts.
            if let old = Holder(raw), RunCommands.isRunID(old.run) {
                let count = RunCommands.signalled((try? await connection.run(RunCommands.stop(old.run), stdin: nil).stdout) ?? "")
                if count > 0 {
                    return note + "; stopped its \(count) command\(count == 1 ? "" : "s") still running"
                }
            }
            return note
        }
    }

    /// The lease: renewed on every host while the apply runs (a lock that is no longer ours is left alone).
    public func renew() async {
        for connection in connections.values {
            _ = try? await connection.run(ownedThen("sed -i \"s/^renewed=.*/renewed=$(date +%s)/\" \(path)"), stdin: nil)
        }
    }

    /// Removes the lock from every host where it is still ours.
    public func release() async {
        await withTaskGroup(of: Void.self) { group in
            for connection in connections.values {
                group.addTask { _ = try? await connection.run(ownedThen(Command("rm", "-f", path).shell), stdin: nil) }
            }
        }
    }

    /// `action` only while the lock is this apply's: its run id, controller and pid (two applies
    /// of one saved plan share a run id).
    func ownedThen(_ action: Shell) -> Shell {
        let checks: [Shell] = [("run", me.run), ("controller", me.controller), ("pid", String(me.pid))].map { key, value in
            let program: String = "s/^" + key + "=//p"
            return "[ \"$(sed -n \(program) \(path) 2>/dev/null)\" = \(value) ]"
        }
        return Shell.all(checks + [action])
    }

    /// Renews the lease until the task is cancelled.
    public func keepAlive() -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.renewEvery)
                if Task.isCancelled { break }
                await renew()
            }
        }
    }

    /// The probe `plan` reads: the lock file, if any (FactScript section "apply-lock").
    public static let probe: FactScript = {
        var script = FactScript()
        script.add("apply-lock", "cat \(defaultPath) 2>/dev/null; true")
        return script
    }()
}
