import Foundation

import PghaShell

// The command lines every transport builds: a fixed environment, optional sudo, optional
// remote timeout, and the atomic upload recipe. The script itself arrives as rendered shell
// text (the runtime builds it with PghaShell); here it only becomes one quoted word of bash -c.

/// The script a remote `/bin/bash -c` runs: a fixed locale first, so outputs parse the same
/// everywhere.
func innerScript(_ command: String) -> String { "export LC_ALL=C LANG=C; " + command }

/// `[LC_ALL=C sudo -n --] [timeout -s KILL T] /bin/bash -c '<script>'`.
///
/// The remote side enforces the deadline: coreutils `timeout` puts the command in its own
/// process group and kills the whole group, so nothing the command started survives it (ending
/// the channel or the local ssh client would leave the command running). sudo runs with -n so
/// it fails instead of prompting; its own messages are in the C locale so they can be matched.
func remoteCommandLine(_ script: String, sudo: Bool, timeout: Duration?) -> String {
    var words: [String] = []
    if sudo { words += ["sudo", "-n", "--"] }
    if let timeout { words += ["timeout", "-s", "KILL", String(format: "%.3f", max(0.001, timeout.seconds))] }
    words += ["/bin/bash", "-c", script]
    let line: Shell = "\(words: words)"
    return (sudo ? "LC_ALL=C " : "") + line.text
}

/// The ssh client never reports a remote exit *signal* (it exits 255, as for its own errors),
/// so the OpenSSH transport runs commands under a small bash wrapper that appends one trailer
/// line to stderr: `\u{1e}pgha-exit:<status>` or `\u{1e}pgha-exit:0:<SIGNAL>`. The inner shell
/// marks a normal exit (including `exit N`) from its EXIT trap; a status above 128 with no mark
/// means the shell was killed by signal status-128. No trailer at all means the command never
/// finished (connection lost, or the whole group killed by the remote timeout).
func trailerScript(_ command: String) -> String {
    let inner = "trap 'set -C; : 2>/dev/null >\"$PGHA_RC\"' EXIT\n" + innerScript(command)
    return """
        f=/tmp/.pgha-rc.$$.$RANDOM$RANDOM; PGHA_RC=$f /bin/bash -c \(quote(inner)); s=$?
        if [ -e "$f" ]; then rm -f "$f"; printf '\\036pgha-exit:%d\\n' $s >&2
        elif [ $s -gt 128 ]; then printf '\\036pgha-exit:0:%s\\n' "$(kill -l $s)" >&2
        else printf '\\036pgha-exit:%d\\n' $s >&2; fi; exit $s
        """
}

/// Splits the wrapper's trailer off stderr: (stderr without it, status, signal), or nil when
/// there is no trailer.
func parseTrailer(_ stderr: Data) -> (stderr: Data, status: Int32, signal: String?)? {
    guard let start = stderr.lastIndex(of: 0x1e) else { return nil }
    let tail = String(decoding: stderr[start...].dropFirst(), as: UTF8.self)
    guard tail.hasPrefix("pgha-exit:"), tail.hasSuffix("\n") else { return nil }
    let fields = tail.dropFirst("pgha-exit:".count).dropLast().split(separator: ":", omittingEmptySubsequences: false)
    guard let first = fields.first, let status = Int32(first), fields.count <= 2 else { return nil }
    let signal = fields.count == 2 ? String(fields[1]) : nil
    return (Data(stderr[stderr.startIndex..<start]), status, signal?.isEmpty == true ? nil : signal)
}

/// The upload recipe for the shell-based paths: stdin to a temporary file next to the target
/// (created exclusively: noclobber never follows a planted link), then mode, owner and an
/// atomic `mv -f`; the temporary file is removed on any failure.
func uploadScript(to path: String, mode: UInt32, owner: String?, group: String?) -> String {
    let temporary = temporaryName(for: path)
    let steps: [Shell] = ["umask 077", "set -C", "cat > \(temporary)"] + settle(temporary, to: path, mode: mode, owner: owner, group: group, always: true)
    let script: Shell = "{ \(Shell.all(steps)); } || { rc=$?; rm -f \(temporary); exit $rc; }"
    return script.text
}

/// Owner, mode and the atomic rename of an uploaded temporary file. chown before chmod: chown
/// clears setuid/setgid bits. `always`: set the mode even without an owner change.
func settle(_ temporary: String, to path: String, mode: UInt32, owner: String?, group: String?, always: Bool) -> [Shell] {
    var steps: [Shell] = []
    if let owner { steps.append("chown \(owner + (group.map { ":\($0)" } ?? "")) \(temporary)") }
    else if let group { steps.append("chgrp \(group) \(temporary)") }
    if always || !steps.isEmpty { steps.append("chmod \(String(mode, radix: 8)) \(temporary)") }
    steps.append("mv -f \(temporary) \(path)")
    return steps
}

/// `/etc/x/.name.pgha-1a2b3c4d`: same folder (so the rename is atomic), hidden, unique.
func temporaryName(for path: String) -> String {
    let slash = path.lastIndex(of: "/")
    let folder = slash.map { String(path[...$0]) } ?? ""
    let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
    return folder + "." + base + ".pgha-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
}

/// A failed `sudo -n` as an error a person can act on, or nil when sudo was not the problem.
func sudoProblem(_ result: ExecResult, endpoint: HostEndpoint) -> TransportError? {
    guard endpoint.sudo, !result.succeeded else { return nil }
    let text = result.stderrText
    if text.contains("sudo: a password is required") || text.contains("sudo: a terminal is required") {
        return TransportError(host: endpoint.name, kind: .sudo,
                              "sudo wants a password for \(endpoint.user) on \(endpoint.address); allow it without one (e.g. /etc/sudoers.d/pgha: `\(endpoint.user) ALL=(ALL) NOPASSWD: ALL`) or connect as root")
    }
    if text.contains("is not in the sudoers file") || text.contains("is not allowed to execute") {
        return TransportError(host: endpoint.name, kind: .sudo,
                              "\(endpoint.user) may not use sudo on \(endpoint.address); add a NOPASSWD rule for it or connect as root")
    }
    if result.exitStatus == 127, text.contains("sudo: not found") || text.contains("sudo: command not found") {
        return TransportError(host: endpoint.name, kind: .sudo,
                              "sudo is not installed on \(endpoint.address); install it or connect as root")
    }
    return nil
}

/// The timeout error every transport throws.
func timeoutError(_ endpoint: HostEndpoint, _ command: String, _ timeout: Duration) -> TransportError {
    TransportError(host: endpoint.name, kind: .timeout,
                   "`\(abbreviated(command))` did not finish within \(describe(timeout)) and was killed")
}

/// Linux signal numbers to their SSH names (no "SIG").
func signalName(_ number: Int32) -> String {
    let names = ["HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
                 "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
                 "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS"]
    return number >= 1 && Int(number) <= names.count ? names[Int(number) - 1] : String(number)
}
