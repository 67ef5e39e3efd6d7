import Foundation
import PghaShell

/// The remote commands of one apply, so that an interruption (Ctrl-C, or a killed pgha whose
/// lock the next apply takes over) can stop them on the hosts. Each command records its process
/// group in `/run/pgha/RUN.pgids` as it starts; the transports run every command under
/// coreutils `timeout`, which leads a process group of its own (so the group is the command and
/// everything it started, and nothing else). Stopping sends TERM to each recorded group still
/// led by a `timeout`, then KILL to what is left after 2 s. A server a command started as a
/// daemon (pg_ctl start) has its own session and is not part of it.
public enum RunCommands {
    /// A run id as pgha makes them (BootstrapContext.newRunID): it names a file.
    public static func isRunID(_ text: String) -> Bool {
        text.range(of: "^[0-9]{8}-[0-9]{6}$", options: .regularExpression) != nil
    }

    public static func file(_ run: String) -> String { "/run/pgha/\(run).pgids" }

    /// Put before a command: records the group it runs in (that of the bash running it).
    public static func recording(_ run: String) -> Shell {
        "{ mkdir -p -m 700 /run/pgha && cut -d' ' -f5 /proc/$$/stat >> \(file(run)); } 2>/dev/null; "
    }

    /// Stops the run's recorded groups (not the one this runs in), then forgets them.
    public static func stop(_ run: String) -> Shell {
        let file = file(run)
        return """
            f=\(file); [ -f "$f" ] || exit 0; me=$(cut -d' ' -f5 /proc/$$/stat); n=0
            for signal in TERM KILL; do
              for g in $(sort -u "$f"); do
                [ "$g" != "$me" ] && [ "$(cat /proc/$g/comm 2>/dev/null)" = timeout ] && kill -$signal -- -$g 2>/dev/null && n=$((n + 1))
              done
              [ $signal = KILL ] || sleep 2
            done
            rm -f "$f"; echo "signalled=$n"
            """
    }

    /// Forgets the run's groups (its commands all ended).
    public static func forget(_ run: String) -> Shell { Command("rm", "-f", file(run)).shell }

    /// How many process groups `stop` signalled, from its output.
    public static func signalled(_ output: String) -> Int {
        Int(output.split(separator: "=").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
    }
}
