import Foundation
import PghaShell
import PghaSpec

/// What a node's data is, compared with the current primary's: read on the node in one probe
/// (the primary is asked over a replication connection through the rw VIP, as the replication
/// role with the PostgreSQL user's .pgpass), decided purely by `Divergence.judge`.
///
/// A promotion starts a new timeline at the fork point (`TIMELINE_HISTORY`). A node whose WAL
/// on the parent timeline goes past the fork point holds records the new primary never
/// received; `pg_waldump` from the fork point on tells which, and how many of them were
/// commits: transactions a rejoin discards. pg_rewind needs the timeline switch to see a fork
/// at all: with the agent's `restart_on_promote=true` the new primary continues the old
/// timeline, and only a fresh clone is safe (README.md, "Rejoin").
public struct UpstreamState: Sendable, Equatable {
    public var systemIdentifier: String
    public var timeline: Int
    public var position: LSN?
    /// Where each ancestor timeline of the primary's ends: timeline → the fork point.
    public var forks: [Int: LSN]

    /// `identify=SYSID|TL|LSN|` and `history=TL<TAB>LSN<TAB>reason` lines.
    public static func parse(_ text: String) -> UpstreamState? {
        var state: UpstreamState?
        var forks: [Int: LSN] = [:]
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("identify=") {
                let fields = line.dropFirst("identify=".count).split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                guard fields.count >= 3, let timeline = Int(fields[1]), !fields[0].isEmpty,
                      fields[0].allSatisfy(\.isNumber) else { continue }
                state = UpstreamState(systemIdentifier: fields[0], timeline: timeline, position: LSN(fields[2]), forks: [:])
            } else if line.hasPrefix("history=") {
                var body = Substring(line.dropFirst("history=".count))
                if let bar = body.firstIndex(of: "|"), body[..<bar].hasSuffix(".history") { body = body[body.index(after: bar)...] }
                let fields = body.split(separator: "\t").map { $0.trimmingCharacters(in: .whitespaces) }
                if fields.count >= 2, let timeline = Int(fields[0]), let lsn = LSN(fields[1]) { forks[timeline] = lsn }
            }
        }
        state?.forks = forks
        return state
    }
}

/// pg_waldump's summary of the node's WAL from the fork point on.
public struct WALBeyondFork: Sendable, Equatable {
    public var records: Int
    public var first: LSN?
    public var last: LSN?
    public var commits: Int
    public var firstCommit: String?
    public var lastCommit: String?

    /// `records=N first=LSN last=LSN commits=N first_commit=TIME last_commit=TIME` (times with `_` for spaces).
    public static func parse(_ text: String) -> WALBeyondFork? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("records=") }) else { return nil }
        var values: [String: String] = [:]
        for word in line.split(separator: " ") {
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        guard let records = values["records"].flatMap({ Int($0) }), let commits = values["commits"].flatMap({ Int($0) }) else { return nil }
        func time(_ key: String) -> String? { values[key].map { $0.replacingOccurrences(of: "_", with: " ") } }
        return WALBeyondFork(records: records, first: values["first"].flatMap { LSN($0) }, last: values["last"].flatMap { LSN($0) },
                             commits: commits, firstCommit: time("first_commit"), lastCommit: time("last_commit"))
    }
}

/// The node's data against the primary's.
public enum Divergence: Sendable, Equatable {
    /// Its WAL ends at or before the fork (or it is on the primary's timeline and behind): it can follow as it is.
    case behind(fork: LSN?)
    /// Records past the fork point, none of them a commit: pg_rewind loses nothing committed.
    case diverged(fork: LSN, beyond: WALBeyondFork)
    /// Commits past the fork point: pg_rewind discards them.
    case lost(fork: LSN, beyond: WALBeyondFork)
    /// Whether and where it diverged cannot be told (why): only a fresh clone is safe.
    case unknown(String)
    /// Another cluster's data.
    case foreign(String)

    public static func judge(local: ControlData, upstream: UpstreamState, beyond: WALBeyondFork?, restartOnPromote: Bool) -> Divergence {
        guard local.systemIdentifier == upstream.systemIdentifier else {
            return .foreign("holds another cluster's data (system identifier \(local.systemIdentifier); the primary's is \(upstream.systemIdentifier))")
        }
        guard let timeline = local.timeline else { return .unknown("pg_controldata shows no timeline") }
        let wasPrimary = local.state == "in production" || local.state == "shut down"
        if timeline == upstream.timeline {
            // The same timeline: a standby that stopped is behind; a primary of this timeline
            // next to another primary of it means the promotion did not switch timelines.
            if !wasPrimary { return .behind(fork: nil) }
            return .unknown(restartOnPromote
                ? "it was a primary on timeline \(timeline), and the new primary continued that timeline (restart_on_promote=true): pg_rewind cannot see where they parted"
                : "it was a primary on timeline \(timeline), the primary's own timeline")
        }
        guard let fork = upstream.forks[timeline] else {
            return .unknown("its timeline \(timeline) is not an ancestor of the primary's timeline \(upstream.timeline)")
        }
        guard let beyond else { return .unknown("its WAL past \(fork) could not be read (pg_waldump)") }
        if beyond.records == 0 {
            // Nothing past the fork; its last checkpoint must agree.
            if let checkpoint = LSN(local.checkpoint), checkpoint > fork {
                return .unknown("its last checkpoint \(checkpoint) is past the fork point \(fork), yet no WAL was found there")
            }
            return .behind(fork: fork)
        }
        return beyond.commits > 0 ? .lost(fork: fork, beyond: beyond) : .diverged(fork: fork, beyond: beyond)
    }
}

extension NodeProbes {
    /// The current primary's identity and timeline history (through the rw VIP), and the
    /// node's own WAL past the fork point of its timeline (only while its server is stopped).
    public var divergence: Probe<(upstream: UpstreamState?, beyond: WALBeyondFork?)> {
        let pg = spec.postgresql
        let conninfo = "host=\(spec.vips.readWrite.ip) port=\(pg.port) user=\(spec.replication.user) dbname=replication replication=true connect_timeout=3"
        let psql = pg.tools.tool("psql", ["-X", "-At", "-d", conninfo])
        let controldata = pg.tools.tool("pg_controldata", ["-D", pg.dataDir], asUser: false)
        let waldump = pg.tools.tool("pg_waldump", ["-p", pg.dataDir + "/pg_wal"])
        let pid = pg.dataDir + "/postmaster.pid"
        // Every value the shell reads back from a host ($tl, $ltl, $fork) is checked against a
        // digits-only or LSN pattern before it is used, and is only ever one quoted word.
        let awk = #"""
            /^rmgr: / { if (match($0, /lsn: [0-9A-F]+\/[0-9A-F]+/)) { l = substr($0, RSTART + 5, RLENGTH - 5); n++; if (f == "") f = l; e = l }
              if ($0 ~ /^rmgr: Transaction/ && match($0, /desc: COMMIT [0-9-]+ [0-9:]+/)) { c++; t = substr($0, RSTART + 13, RLENGTH - 13); gsub(/ /, "_", t); if (fc == "") fc = t; lc = t } }
            END { printf "records=%d first=%s last=%s commits=%d first_commit=%s last_commit=%s\n", n, f, e, c, fc, lc }
            """#
        // Asked only where a rejoin may be needed: pgha's cluster exists, and this node is
        // neither a primary nor a streaming standby (everywhere else it would cost a connection
        // to the rw VIP; where there is none yet, a TCP check gives up after 1 s).
        let needed: Shell = "printf '%s' \(SharedFacts.Variable.cib.expansion) | grep -qF -- \("id=\"" + spec.pacemaker.pgsqlResource + "\"") && ! printf '%s\\n' \(SharedFacts.Variable.pg.expansion) | grep -qxE 'role=primary|wal_receiver=streaming'"
        let script: Shell = """
            if \(needed); then
            up=$( \(SharedFacts.rwVIPUp) && \(psql.appending("-c", "IDENTIFY_SYSTEM")) 2>/dev/null | head -1)
            printf 'identify=%s\\n' "$up"
            tl=$(printf '%s' "$up" | cut -d'|' -f2)
            hist=
            case $tl in ''|*[!0-9]*) ;; *) if [ "$tl" -gt 1 ]; then hist=$( \(psql.shell(then: "-c \"TIMELINE_HISTORY $tl\"")) 2>/dev/null | sed 's/^[0-9A-F]*\\.history|//'); printf '%s\\n' "$hist" | sed 's/^/history=/'; fi ;; esac
            if ! { [ -f \(pid) ] && kill -0 "$(head -1 \(pid))"; } 2>/dev/null && [ -f \(pg.dataDir + "/global/pg_control") ]; then
              ltl=$( \(controldata) | sed -n "s/^Latest checkpoint's TimeLineID: *//p")
              fork=$(printf '%s\\n' "$hist" | awk -F'\\t' -v t="$ltl" '$1 == t { print $2 }')
              case "$ltl" in ''|*[!0-9]*) ;; *) case "$fork" in ''|*[!0-9A-F/]*) ;; *) \(waldump.shell(then: "-t \"$ltl\" -s \"$fork\"")) 2>&1 | awk \(awk) ;; esac ;; esac
            fi
            fi
            """
        return Probe("node.divergence", script, reads: [SharedFacts.cib, SharedFacts.pg(spec), SharedFacts.rwVIP(spec)]) { text in (UpstreamState.parse(text), WALBeyondFork.parse(text)) }
    }
}
