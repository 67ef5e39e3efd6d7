import Foundation
import PghaShell

/// Runs the `pcs -f FILE …` commands of the rendered pcs-resources.sh in one pcs process.
///
/// Each `pcs` is a Python start plus pcs's imports (~1 s of a host's CPU): the 17 offline
/// commands of a first configuration took 16 s. The script that runs is the rendered one,
/// unchanged but for a preamble: `pcs -f …` calls are queued (their argv, NUL-separated), and
/// the next other `pcs` call (the `cib-push`) first runs the queue through pcs's own entry
/// point, `pcs.app.main(argv)`, once per command in one interpreter. The CIB file they build is
/// the same, byte for byte but for its timestamps (checked on pcs 0.11.5 when this was written).
/// Where pcs is not importable by python3 (pcs 0.9 runs on Python 2), each command runs as its
/// own `pcs` process, as the script says. A failing command stops the script before the push.
public enum PcsBatch {
    public static let runnerPath = "/root/pgha-pcs-batch.py"

    /// The rendered script with the queueing preamble after its `set -euo pipefail` line. A
    /// script that reads a CIB file the queued commands write with anything but pcs (the
    /// repair's cibadmin) calls `pgha_pcs_flush` first (ClusterConfigRepair.flush).
    public static func wrap(_ script: String, runner: String = runnerPath) -> String {
        let preamble = """
            # pgha: the `pcs -f` commands below run in one pcs process (\(runner)).
            pgha_pcs_queue=$(mktemp /tmp/pgha-pcs-queue.XXXXXX)
            pgha_pcs_flush() {
              if [ -s "$pgha_pcs_queue" ]; then python3 -Es \(runner) "$pgha_pcs_queue" || return 1; : > "$pgha_pcs_queue"; fi
            }
            pcs() {
              if [ "${1-}" = -f ]; then printf '%s\\0' "$#" "$@" >> "$pgha_pcs_queue"; return 0; fi
              pgha_pcs_flush || return 1
              command pcs "$@"
            }
            """
        var lines = script.components(separatedBy: "\n")
        guard let at = lines.firstIndex(of: "set -euo pipefail") else { return script }
        lines.insert(preamble, at: at + 1)
        // The queue file goes with the script's own work directory.
        // (the repair's trap under maintenance-mode ends the same way)
        return lines.joined(separator: "\n").replacingOccurrences(of: "rm -rf \"$workdir\"' EXIT",
                                                                   with: "rm -rf \"$workdir\" \"$pgha_pcs_queue\"' EXIT")
    }

    /// The runner: reads the queue (count, then that many words, each NUL-terminated).
    public static let runner = """
        import subprocess, sys

        def commands(path):
            words = open(path, "rb").read().split(b"\\0")[:-1]
            i = 0
            while i < len(words):
                n = int(words[i]); yield [w.decode() for w in words[i + 1:i + 1 + n]]; i += 1 + n

        try:
            from pcs import app
            main = app.main
        except Exception:
            main = None

        for argv in commands(sys.argv[1]):
            if main is None:
                status = subprocess.call(["pcs"] + argv)
            else:
                try:
                    main(argv)
                    status = 0
                except SystemExit as e:
                    status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if status != 0:
                sys.stderr.write("pcs %s: exit %d\\n" % (" ".join(argv[:4]), status))
                sys.exit(status)

        """
}
